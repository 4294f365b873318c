"""Each client written for the reference's APIs, unchanged: its request replayed exactly as its source
builds it (method, path, query or body, value spellings), answered with audio in the shape it reads.
The client files are named at each test, with the commit they were read at."""
from __future__ import annotations

import numpy as np
import pytest
from reference_helpers import (PROMPT, VOICE, assert_reference_error, decoded, expected, reference_service,
                               streamed_wav, whole_wav)


@pytest.fixture
def ref(make_client, tmp_path, clips, png):
    return reference_service(make_client, tmp_path, clips, png)


def test_astrbot_gsv_selfhost(ref):
    # AstrBotDevs/AstrBot@19d00fb1f astrbot/core/provider/sources/gsv_selfhosted_source.py:
    #   self.default_params = {key.removeprefix("gsv_"): str(value).lower() for ... gsv_default_parms}
    #   params = self.default_params.copy(); params["text"] = text
    #   session.get(f"{api_base}/tts", params=params)  -> response.read() saved as a .wav
    # The values are astrbot/core/config/default.py's "GSV TTS(Local)" defaults, with the user's
    # (absolute) reference path: lower-cased like every other setting.
    defaults = {"gsv_ref_audio_path": str(ref.clip), "gsv_prompt_text": PROMPT, "gsv_prompt_lang": "zh",
                "gsv_aux_ref_audio_paths": "", "gsv_text_lang": "zh", "gsv_top_k": 5, "gsv_top_p": 1.0,
                "gsv_temperature": 1.0, "gsv_text_split_method": "cut3", "gsv_batch_size": 1,
                "gsv_batch_threshold": 0.75, "gsv_split_bucket": True, "gsv_speed_factor": 1,
                "gsv_fragment_interval": 0.3, "gsv_streaming_mode": False, "gsv_seed": -1,
                "gsv_parallel_infer": True, "gsv_repetition_penalty": 1.35, "gsv_media_type": "wav"}
    params = {key.removeprefix("gsv_"): str(value).lower() for key, value in defaults.items()}
    params["text"] = "你好|世界"
    response = ref.client.get("/tts", params=params)
    assert response.status_code == 200, response.text
    options = ref.last()
    assert options.ref_wav_path == str(ref.clip.resolve())  # found although the client lower-cased it
    assert (options.sampling.top_k, options.sampling.top_p, options.sampling.temperature) == (5, 1.0, 1.0)
    assert (options.how_to_cut, options.seed, options.speed, options.pause_second) == ("cut3", None, 1.0, 0.3)
    assert options.chunks is None
    np.testing.assert_array_equal(whole_wav(response.content), expected(options))


def test_astrbot_weight_switch_of_a_missing_file_is_a_400_it_logs(ref):
    # gsv_selfhosted_source.py _set_model_weights: GET {api_base}/set_gpt_weights {"weights_path": ...};
    # a non-200 is raised, logged, and the provider goes on with the loaded weights.
    response = ref.client.get("/set_gpt_weights", params={"weights_path": "d:/gpt-sovits/my.ckpt"})
    assert "weight" in assert_reference_error(response, 400, "Exception")


@pytest.mark.parametrize("streaming_mode", ["false", "true"])
def test_open_llm_vtuber(ref, streaming_mode):
    # Open-LLM-VTuber/Open-LLM-VTuber@19b58b1 src/open_llm_vtuber/tts/gpt_sovits_tts.py: every value a
    # string from conf.default.yaml's gpt_sovits_tts; requests.get(api_url, params=data), and
    # response.content written to <cache>.wav. With streaming_mode 'true' that file is api_v2's stream.
    data = {"text": "你好|世界", "text_lang": "zh", "ref_audio_path": VOICE, "prompt_lang": "zh",
            "prompt_text": "", "text_split_method": "cut5", "batch_size": "1", "media_type": "wav",
            "streaming_mode": streaming_mode}
    response = ref.client.get("/tts", params=data)
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav", response.text
    options = ref.last()
    assert options.prompt_text == PROMPT and options.how_to_cut == "cut5"  # the voice model's transcript
    samples = streamed_wav(response.content) if streaming_mode == "true" else whole_wav(response.content)
    np.testing.assert_array_equal(samples, expected(options))


def test_pyvideotrans_api_py(ref):
    # jianchang512/pyvideotrans@42d69fb4 videotrans/tts/_gptsovits.py, api.py mode: a role line
    # "path#text#language" gives refer_wav_path/prompt_text/prompt_language; data['speed'] = 1.0 + speed
    # (2.0 at the default rate); requests.post(api_url, json=data) to the server's root, and
    # response.content saved as .wav, then converted with ffmpeg.
    data = {"text": "你好|世界", "text_language": "zh", "refer_wav_path": str(ref.clip), "prompt_text": PROMPT,
            "prompt_language": "zh", "speed": 1.0 + 1.0}
    response = ref.client.post("/", json=data)
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav", response.text
    options = ref.last()
    assert (options.speed, options.prompt_text, options.text_language) == (2.0, PROMPT, "zh")
    np.testing.assert_array_equal(whole_wav(response.content), expected(options))
    np.testing.assert_array_equal(decoded(response.content), expected(options))


def test_pyvideotrans_api_v2(ref):
    # The same file with gptsovits_isv2: POST {api_url}/tts, json with speed_factor and cut5.
    data = {"text": "你好|世界", "text_lang": "zh", "ref_audio_path": str(ref.clip), "prompt_text": PROMPT,
            "prompt_lang": "zh", "speed_factor": 1.1, "text_split_method": "cut5"}
    response = ref.client.post("/tts", json=data)
    assert response.status_code == 200, response.text
    assert ref.last().speed == 1.1
    np.testing.assert_array_equal(whole_wav(response.content), expected(ref.last()))


def test_videolingo(ref):
    # Huanshere/VideoLingo@dfbdc00 core/tts_backend/gpt_sovits_tts.py: start_gpt_sovits_server polls
    # requests.get('http://127.0.0.1:9880/ping') for a 200; gpt_sovits_tts posts the payload below to
    # /tts (ref_audio_path: an absolute path under its output/audio/refers/) and writes response.content.
    assert ref.client.get("/ping").status_code == 200
    payload = {"text": "Hello|world", "text_lang": "en", "ref_audio_path": str(ref.clip), "prompt_lang": "zh",
               "prompt_text": PROMPT, "speed_factor": 1.0}
    response = ref.client.post("/tts", json=payload)
    assert response.status_code == 200, response.text
    assert ref.last().text_language == "en" and ref.last().how_to_cut == "cut5"  # api_v2's default cut
    np.testing.assert_array_equal(whole_wav(response.content), expected(ref.last()))


def test_maibot_tts_voice_plugin(ref):
    # xuqian13/tts_voice_plugin@13b8972 backends/gpt_sovits.py: a style's refer_wav / prompt_text /
    # prompt_language; text_lang from TTSTextUtils.detect_language (zh/ja/en); session.post(f"{server}/tts",
    # json=data); the body must be at least 100 bytes (utils/file.py) and is sent on as wav.
    data = {"text": "你好|世界", "text_lang": "zh", "ref_audio_path": str(ref.clip), "prompt_text": PROMPT,
            "prompt_lang": "zh"}
    response = ref.client.post("/tts", json=data)
    assert response.status_code == 200 and len(response.content) >= 100, response.text
    np.testing.assert_array_equal(whole_wav(response.content), expected(ref.last()))


def _maimbot_params(ref, streaming: bool) -> dict:
    # MaiM-with-u/maimbot_tts_adapter@408ceed src/plugins/GPT_Sovits/tts_model.py build_parameters, with
    # template_configs/gpt-sovits_template.toml's values; booleans as str(bool) ("False"), and
    # aux_ref_audio_paths [] (which requests and aiohttp leave out of the query).
    return {"text": "你好|世界", "text_lang": "auto", "ref_audio_path": VOICE, "prompt_text": PROMPT,
            "prompt_lang": "zh", "top_k": 12, "top_p": 1.0, "temperature": 1.0, "text_split_method": "cut5",
            "batch_size": 1, "batch_threshold": 0.75, "speed_factor": 1.0, "streaming_mode": str(streaming),
            "media_type": "wav", "repetition_penalty": 1.35, "sample_steps": 32, "super_sampling": str(False)}


def test_maimbot_tts_adapter(ref):
    # tts(): session.get(f"{base_url}/tts", params=params) -> response.read(), a whole wav read with `wave`.
    response = ref.client.get("/tts", params=_maimbot_params(ref, streaming=False))
    assert response.status_code == 200, response.text
    assert (ref.last().sampling.top_k, ref.last().text_language) == (12, "auto")
    np.testing.assert_array_equal(whole_wav(response.content), expected(ref.last()))


def test_maimbot_tts_adapter_stream(ref):
    # tts_stream(): requests.get(..., stream=True) and response.iter_content(chunk_size=4096), each chunk
    # sent on as it comes: the WAV header, then PCM.
    with ref.client.stream("GET", "/tts", params=_maimbot_params(ref, streaming=True)) as response:
        assert response.status_code == 200
        body = b"".join(response.iter_bytes(4096))
    assert ref.last().chunks is None  # streaming_mode 1: streamed whole segments, no chunks
    np.testing.assert_array_equal(streamed_wav(body), expected(ref.last()))


def test_maimbot_tts_adapter_reads_message_and_exception_of_errors(ref):
    # tts(): on a 400, error_response.get("message") and .get("Exception") are raised to the user.
    response = ref.client.get("/tts", params={**_maimbot_params(ref, False), "text_lang": "klingon"})
    assert "text_lang" in assert_reference_error(response)
