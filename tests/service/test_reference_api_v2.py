"""api_v2's /tts with a test-double engine: every parameter and its spellings, the streaming modes and
their shape, the media types, errors as `{"message"}` 400s, the default reference, limits, the key,
back-pressure; and /set_*_weights, /set_refer_audio, /control."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from reference_helpers import (PROMPT, VOICE, WAV_HEADER, assert_reference_error, decoded, expected,
                               reference_service, streamed_wav, whole_wav)

from GPT_SoVITS.pipeline import ChunkPlan, SamplingOptions
from golden_data import model_file
from support.stream_engine import SAMPLE_RATE
from tts_service.settings import GPT_WEIGHT_FILE, SOVITS_WEIGHT_FILE
from weights.torch_writer import stride_zero_bomb

BASE = {"text": "一|二|三", "text_lang": "zh", "ref_audio_path": VOICE}


# api_v2's streaming_mode as the pipeline gets it: 1 streams whole segments; 2 and 3 cut them into chunks
# (at pauses, or of fixed length), the reference's chunk length and overlap by default.
CHUNKS_OF_MODE = {1: None, 2: ChunkPlan(at_pauses=True), 3: ChunkPlan(at_pauses=False)}


@pytest.fixture
def ref(make_client, tmp_path, clips, png):
    return reference_service(make_client, tmp_path, clips, png)


def test_api_v2_defaults(ref):
    assert ref.client.post("/tts", json=BASE).status_code == 200
    options = ref.last()
    assert options.sampling == SamplingOptions(top_k=15, top_p=1.0, temperature=1.0, repetition_penalty=1.35)
    assert (options.how_to_cut, options.speed, options.pause_second, options.seed) == ("cut5", 1.0, 0.3, None)
    assert options.chunks is None  # streaming_mode 0: whole segments
    assert (options.prompt_text, options.prompt_language, options.extra_ref_wav_paths) == (PROMPT, "zh", [])
    assert options.parallel_segments is None  # no batch_size sent: the service's --parallel-segments


@pytest.mark.parametrize("fields,parallel", [({"batch_size": 3}, 3), ({"batch_size": 3, "parallel_infer": False}, 1),
                                             ({"parallel_infer": "false"}, 1), ({"batch_size": 200}, 200)])
def test_batch_size_and_parallel_infer_set_the_segments_decoding_at_once(ref, fields, parallel):
    assert ref.client.post("/tts", json={**BASE, **fields}).status_code == 200
    assert ref.last().parallel_segments == parallel


def test_every_parameter_in_the_spellings_clients_send(ref):
    query = {**BASE, "text_lang": "EN", "prompt_lang": "ZH", "prompt_text": "别的文本", "top_k": "5.0", "top_p": "0.8",
             "temperature": "0.7", "text_split_method": "CUT2", "batch_size": "4", "batch_threshold": "0.5",
             "split_bucket": "False", "speed_factor": "1.25", "fragment_interval": "0.5", "seed": "7",
             "media_type": "RAW", "parallel_infer": "TRUE", "repetition_penalty": "1.2", "sample_steps": "8",
             "super_sampling": "1", "noise_scale": "0.3"}
    response = ref.client.get("/tts", params={**query, "aux_ref_audio_paths": [str(ref.clip), VOICE.lower()]})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/raw", response.text
    options = ref.last()
    assert (options.text_language, options.prompt_language, options.prompt_text) == ("en", "zh", "别的文本")
    assert options.sampling == SamplingOptions(top_k=5, top_p=0.8, temperature=0.7, repetition_penalty=1.2)
    assert (options.speed, options.pause_second, options.seed, options.how_to_cut) == (1.25, 0.5, 7, "cut2")
    assert options.noise_scale == 0.3
    assert options.extra_ref_wav_paths == [str(ref.clip.resolve()), options.ref_wav_path]  # a voice: its clip
    np.testing.assert_array_equal(np.frombuffer(response.content, "<i2"), expected(options))


@pytest.mark.parametrize("value, mode", [(True, 1), ("true", 1), ("True", 1), (1, 1), ("1", 1), ("2", 2), (3, 3)])
def test_streaming_modes_send_a_wav_header_then_pcm(ref, value, mode):
    response = ref.client.post("/tts", json={**BASE, "streaming_mode": value})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav", response.text
    assert ref.last().chunks == CHUNKS_OF_MODE[mode]
    np.testing.assert_array_equal(streamed_wav(response.content), expected(ref.last()))


@pytest.mark.parametrize("value", [False, 0, "false", "0", "False"])
def test_streaming_mode_off_is_one_complete_wav(ref, value):
    response = ref.client.get("/tts", params={**BASE, "streaming_mode": value})
    assert response.status_code == 200 and ref.last().chunks is None
    assert response.content[4:8] != b"\xff\xff\xff\xff"  # exact sizes
    np.testing.assert_array_equal(whole_wav(response.content), expected(ref.last()))


def test_a_stream_sends_its_first_audio_before_the_last_segment_exists(ref):
    ref.engine.gate = gate = threading.Event()  # the last segment waits for the gate
    with ref.client.stream("POST", "/tts", json={**BASE, "streaming_mode": 1}) as response:
        chunks = response.iter_bytes()
        first = next(chunks)
        while len(first) < WAV_HEADER + 2:  # the header and some audio
            first += next(chunks)
        assert 2 not in ref.engine.produced  # the last of the three segments does not exist yet
        gate.set()
        body = first + b"".join(chunks)
    np.testing.assert_array_equal(streamed_wav(body), expected(ref.last()))


@pytest.mark.parametrize("media_type, content_type", [("ogg", "audio/ogg"), ("aac", "audio/aac"),
                                                      ("mp3", "audio/mpeg"), ("flac", "audio/flac"),
                                                      ("opus", "audio/ogg")])
@pytest.mark.parametrize("streaming_mode", [0, 1])
def test_media_types_whole_and_streamed(ref, media_type, content_type, streaming_mode):
    response = ref.client.post("/tts", json={**BASE, "media_type": media_type, "streaming_mode": streaming_mode})
    assert response.status_code == 200 and response.headers["content-type"] == content_type, response.text
    audio, want = decoded(response.content), expected(ref.last())
    assert abs(len(audio) - len(want)) < SAMPLE_RATE // 10, (len(audio), len(want))  # codecs pad a little
    if media_type == "flac":
        np.testing.assert_array_equal(audio, want)


def test_streamed_raw_is_pcm_without_header(ref):
    response = ref.client.get("/tts", params={**BASE, "media_type": "raw", "streaming_mode": "true"})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/raw"
    np.testing.assert_array_equal(np.frombuffer(response.content, "<i2"), expected(ref.last()))


def test_relative_paths_are_tried_in_the_allowed_folders(ref):
    relative = str(ref.clip.relative_to(ref.refs))
    assert ref.client.get("/tts", params={**BASE, "ref_audio_path": relative, "prompt_lang": "zh"}).status_code == 200
    assert ref.last().ref_wav_path == str(ref.clip.resolve()) and ref.last().prompt_text == ""
    inside_audio = f"audio/{VOICE}/refer.wav"  # relative to the data dir
    assert ref.client.get("/tts", params={**BASE, "ref_audio_path": inside_audio, "prompt_lang": "zh"}).status_code == 200


@pytest.mark.parametrize("fields, words", [
    ({"ref_audio_path": None}, "ref_audio_path is required"),
    ({"text": ""}, "text is required"),
    ({"text_lang": None}, "text_lang is required"),
    ({"text_lang": "ko"}, "text_lang: ko is not supported"),
    ({"prompt_lang": "yue"}, "prompt_lang: yue is not supported"),
    ({"media_type": "wma"}, "media_type: wma is not supported"),
    ({"text_split_method": "cut9"}, "text_split_method:cut9 is not supported"),
    ({"streaming_mode": 5}, "streaming_mode"),
    ({"streaming_mode": "ture"}, "streaming_mode"),
    ({"top_k": "many"}, "top_k"),
    ({"top_k": 1000}, "top_k"),
    ({"top_p": 0}, "top_p"),
    ({"seed": -2}, "seed"),
    ({"speed_factor": 9}, "speed_factor"),
    ({"fragment_interval": -1}, "fragment_interval"),
    ({"split_bucket": "maybe"}, "split_bucket"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 201}, "batch_size"),
    ({"min_chunk_length": 4, "overlap_length": 4, "streaming_mode": 3}, "overlap_length"),
    ({"ref_audio_path": "nobody"}, "nobody"),
    ({"ref_audio_path": "/etc/passwd"}, "不在允许的目录内"),
    ({"ref_audio_path": "../voice_models.json"}, "不在允许的目录内"),
    ({"ref_audio_path": "audio/../voice_models.json"}, "不在允许的目录内"),
    ({"ref_audio_path": "bad\x00name.wav"}, "不合法"),
    ({"aux_ref_audio_paths": ["/etc/hostname"]}, "不在允许的目录内"),
    ({"aux_ref_audio_paths": [VOICE] * 9}, "上限"),
])
def test_bad_requests_are_400_with_a_message(ref, fields, words):
    body = {**BASE, **fields}
    message = assert_reference_error(ref.client.post("/tts", json={k: v for k, v in body.items() if v is not None}))
    assert words in message, message
    assert ref.engine.calls == []


def test_a_clip_path_needs_its_prompt_language(ref):
    response = ref.client.post("/tts", json={**BASE, "ref_audio_path": str(ref.clip)})
    assert assert_reference_error(response) == "prompt_lang is required"


def test_malformed_bodies_are_400_messages(ref):
    assert "JSON" in assert_reference_error(ref.client.post("/tts", content=b"{nope"))
    assert "JSON" in assert_reference_error(ref.client.post("/tts", json=["text"]))


def test_pipeline_failure_is_a_400_with_its_exception(ref):
    response = ref.client.post("/tts", json={**BASE, "text": "FAIL"})
    message = assert_reference_error(response, 400, "Exception")
    assert "测试" in message and "Traceback" not in response.text


def test_limits_of_the_service_apply(make_client, tmp_path, clips, png):
    ref = reference_service(make_client, tmp_path, clips, png, max_text_chars=10, max_prompt_chars=20)
    assert "文本过长" in assert_reference_error(ref.client.post("/tts", json={**BASE, "text": "长" * 11}))
    assert "prompt_text" in assert_reference_error(ref.client.post("/tts", json={**BASE, "prompt_text": "长" * 21}))
    assert ref.engine.calls == []


def test_set_refer_audio_gives_the_reference_of_requests_that_name_none(ref):
    assert "ref_audio_path" in assert_reference_error(ref.client.get("/tts", params={"text": "一", "text_lang": "zh"}))
    bad = ref.client.get("/set_refer_audio", params={"refer_audio_path": "/etc/passwd"})
    assert assert_reference_error(bad, 400, "Exception") == "set refer audio failed"
    done = ref.client.get("/set_refer_audio", params={"refer_audio_path": VOICE})
    assert (done.status_code, done.json()) == (200, {"message": "success"})
    assert ref.client.get("/tts", params={"text": "一", "text_lang": "zh"}).status_code == 200
    assert ref.last().ref_wav_path.endswith(f"{VOICE}/refer.wav") and ref.last().prompt_text == PROMPT


def test_default_voice_setting(make_client, tmp_path, clips, png):
    ref = reference_service(make_client, tmp_path, clips, png, default_voice=VOICE)
    assert ref.client.post("/tts", json={"text": "一", "text_lang": "zh"}).status_code == 200
    assert ref.last().prompt_text == PROMPT


def test_busy_is_503_with_retry_after_in_the_reference_shape(make_client, tmp_path, clips, png):
    ref = reference_service(make_client, tmp_path, clips, png, max_syntheses=1, max_synthesis_waiting=0)
    ref.engine.gate = gate = threading.Event()
    with ref.client.stream("POST", "/tts", json={**BASE, "streaming_mode": 1}) as held:  # holds the one slot
        chunks = held.iter_bytes()  # kept: dropping the iterator would end the stream
        next(chunks)
        assert ref.client.app.state.synthesis_slots.status()["running"] == 1
        for call in (lambda: ref.client.post("/tts", json=BASE),
                     lambda: ref.client.get("/tts", params={**BASE, "streaming_mode": "true"}),
                     lambda: ref.client.get("/", params={"text": "一", "refer_wav_path": VOICE})):
            response = call()
            assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
            assert set(response.json()) <= {"message", "code"} and "繁忙" in response.json()["message"]
        gate.set()
        b"".join(chunks)
    assert len(ref.engine.calls) == 1
    assert ref.client.post("/tts", json=BASE).status_code == 200  # free again


def test_the_api_key_guards_these_routes_too(make_client, tmp_path, clips, png):
    ref = reference_service(make_client, tmp_path, clips, png, api_key="k1")
    headers = {"X-API-Key": "k1"}
    assert ref.client.post("/tts", json=BASE).status_code == 401
    assert ref.client.get("/speakers").status_code == 401
    assert ref.client.get("/set_gpt_weights", params={"weights_path": "x.ckpt"}).status_code == 401
    assert ref.client.post("/tts", json=BASE, headers=headers).status_code == 200
    assert ref.client.get("/tts", params={**BASE, "api_key": "k1"}).status_code == 200  # a URL-only client
    assert ref.client.get("/ping").status_code == 200  # a liveness probe, like /healthz


# ---- weights -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/set_gpt_weights", "/set_sovits_weights"])
def test_set_weights_needs_an_existing_weight_file(ref, tmp_path, path):
    kind = path.split("_")[1]
    assert assert_reference_error(ref.client.get(path)) == f"{kind} weight path is required"
    text = tmp_path / "notes.txt"
    text.write_text("x")
    for weights in (str(text), str(tmp_path / "absent.ckpt")):
        response = ref.client.get(path, params={"weights_path": weights})
        assert assert_reference_error(response, 400, "Exception") == f"change {kind} weight failed"


def test_set_sovits_weights_refuses_a_hostile_file_and_keeps_the_old_weights(make_client, tmp_path):
    weights = {"gpt_path": model_file("gpt/v2/model.ckpt"), "sovits_path": model_file("sovits/v2/model.pth"),
               "cnhubert_base_path": model_file("hubert/chinese-hubert-base/pytorch_model.bin").parent,
               "bert_path": model_file("bert/chinese-roberta-wwm-ext-large/pytorch_model.bin").parent}
    client = make_client(**{key: str(path) for key, path in weights.items()})
    bomb = stride_zero_bomb(tmp_path / "bomb.pth", 2**24, key="enc_p.ssl_proj.weight")
    response = client.get("/set_sovits_weights", params={"weights_path": str(bomb)})
    assert assert_reference_error(response, 400, "Exception") == "change sovits weight failed"
    assert "stride 0" in response.json()["Exception"]
    data_dir = client.app.state.settings.data_dir
    assert not (data_dir / SOVITS_WEIGHT_FILE).exists() and not (data_dir / GPT_WEIGHT_FILE).exists()


def test_set_weights_swaps_through_the_engine(ref, tmp_path, monkeypatch):
    calls = []
    ref.engine.set_model = lambda gpt=None, sovits=None: calls.append((gpt, sovits)) or {}
    for name in ("g.ckpt", "s.pth"):
        (tmp_path / name).write_bytes(b"weights")
    assert ref.client.get("/set_gpt_weights", params={"weights_path": str(tmp_path / "g.ckpt")}).json() == \
        {"message": "success"}
    assert ref.client.get("/set_sovits_weights", params={"weights_path": str(tmp_path / "s.pth")}).json() == \
        {"message": "success"}
    assert calls == [(str(tmp_path / "g.ckpt"), None), (None, str(tmp_path / "s.pth"))]


# ---- /control ------------------------------------------------------------------------------------------
def _control_client(make_client, **settings):
    done = []
    client = make_client(**settings)
    client.app.state.control_commands = {"restart": lambda: done.append("restart"), "exit": lambda: done.append("exit")}
    return client, done


def test_control_is_refused_without_a_key_or_the_flag(make_client):
    client, done = _control_client(make_client)
    assert_reference_error(client.get("/control", params={"command": "exit"}), 403)
    assert done == []


@pytest.mark.parametrize("settings, headers", [({"allow_control": True}, {}), ({"api_key": "k"}, {"X-API-Key": "k"})])
def test_control_acts_after_answering(make_client, settings, headers):
    client, done = _control_client(make_client, **settings)
    response = client.get("/control", params={"command": "restart"}, headers=headers)
    assert response.status_code == 200 and done == ["restart"]
    assert client.post("/control", json={"command": "exit"}, headers=headers).status_code == 200
    assert done == ["restart", "exit"]
    assert assert_reference_error(client.get("/control", headers=headers)) == "command is required"
    assert "not supported" in assert_reference_error(client.get("/control", params={"command": "reboot"},
                                                                headers=headers))
    assert done == ["restart", "exit"]


def test_a_link_out_of_the_allowed_folders_is_refused_however_it_is_spelt(ref, tmp_path):
    secret = tmp_path / "secret.wav"
    secret.write_bytes(ref.clip.read_bytes())
    (ref.refs / "Escape.wav").symlink_to(secret)
    for spelling in (str(ref.refs / "Escape.wav"), str(ref.refs / "escape.wav"), "Escape.wav", "ESCAPE.WAV"):
        response = ref.client.post("/tts", json={**BASE, "ref_audio_path": spelling, "prompt_lang": "zh"})
        assert "不在允许的目录内" in assert_reference_error(response), spelling
    assert ref.engine.calls == []
