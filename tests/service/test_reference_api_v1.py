"""api.py's routes with a test-double engine (GET and POST /, /change_refer, GET /set_model), what clients
poll (/ping, /speakers), and the OpenAPI page listing every compatible route."""
from __future__ import annotations

import numpy as np
import pytest
from reference_helpers import PROMPT, VOICE, expected, reference_service, streamed_wav, whole_wav
from service_helpers import assert_envelope

from tts_service.routers.api_v1 import cut_at


@pytest.fixture
def ref(make_client, tmp_path, clips, png):
    return reference_service(make_client, tmp_path, clips, png)


def assert_api_py_error(response) -> str:
    assert response.status_code == 400, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == 400, body
    return body["message"]


def test_get_root_synthesises_with_api_py_parameters_and_is_the_admin_page_without(ref):
    # api.py's documented call: GET /?refer_wav_path=...&prompt_text=...&prompt_language=zh&text=...&text_language=zh
    query = {"refer_wav_path": str(ref.clip), "prompt_text": PROMPT, "prompt_language": "zh", "text": "一|二",
             "text_language": "zh", "top_k": "20", "top_p": "0.6", "temperature": "0.6", "speed": "1",
             "inp_refs": [VOICE, str(ref.clip)]}
    response = ref.client.get("/", params=query)
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav", response.text
    options = ref.last()
    assert (options.ref_wav_path, options.prompt_text, options.prompt_language) == (str(ref.clip.resolve()), PROMPT, "zh")
    assert (options.sampling.top_k, options.sampling.top_p, options.sampling.temperature, options.speed) == \
        (20, 0.6, 0.6, 1.0)
    assert (options.how_to_cut, options.pause_second, len(options.extra_ref_wav_paths)) == ("cut0", 0.3, 2)
    np.testing.assert_array_equal(whole_wav(response.content), expected(options))
    for query in ({}, {"api_key": "x"}, {"lang": "zh"}):  # no synthesis parameter: the redirect it always was
        response = ref.client.get("/", params=query, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (307, "/index")
    assert len(ref.engine.calls) == 1


def test_api_py_defaults_and_a_voice_model(ref):
    response = ref.client.post("/", json={"refer_wav_path": VOICE, "text": "你好"})
    assert response.status_code == 200, response.text
    options = ref.last()
    assert (options.sampling.top_k, options.sampling.top_p, options.sampling.temperature, options.speed) == \
        (15, 1.0, 1.0, 1.0)
    assert (options.prompt_text, options.text_language, options.text) == (PROMPT, "auto", "你好")


def test_cut_punc_cuts_after_the_marks_api_py_knows():
    assert cut_at("一，二。三", "，。") == "一，\n二。\n三"
    assert cut_at("一，二。三", None) == "一，二。三"
    assert cut_at("a,b|c", ",|") == "a,\nb|c"  # | is no mark of api.py's list


def test_cut_punc_reaches_the_pipeline(ref):
    assert ref.client.post("/", json={"refer_wav_path": VOICE, "text": "一，二。三", "text_language": "zh",
                                      "cut_punc": "，。"}).status_code == 200
    assert (ref.last().text, ref.last().how_to_cut) == ("一，\n二。\n三", "cut0")


def test_change_refer_sets_the_default_reference(ref):
    assert "未指定参考音频" in assert_api_py_error(ref.client.get("/", params={"text": "一", "text_language": "zh"}))
    assert "不在允许的目录内" in assert_api_py_error(ref.client.get("/change_refer", params={"refer_wav_path": "/etc"}))
    done = ref.client.post("/change_refer", json={"refer_wav_path": str(ref.clip), "prompt_text": "别的",
                                                  "prompt_language": "en"})
    assert (done.status_code, done.json()) == (200, {"code": 0, "message": "Success"})
    assert ref.client.get("/", params={"text": "一", "text_language": "zh"}).status_code == 200
    assert (ref.last().ref_wav_path, ref.last().prompt_text, ref.last().prompt_language) == \
        (str(ref.clip.resolve()), "别的", "en")
    assert ref.client.get("/change_refer", params={"refer_wav_path": VOICE}).json()["code"] == 0
    assert ref.client.post("/", json={"text": "一"}).status_code == 200
    assert ref.last().prompt_text == PROMPT  # the voice model's


@pytest.mark.parametrize("body, words", [
    ({"refer_wav_path": VOICE}, "text is required"),
    ({"refer_wav_path": VOICE, "text": "一", "text_language": "klingon"}, "text_language"),
    ({"refer_wav_path": VOICE, "text": "一", "top_k": "x"}, "top_k"),
    ({"refer_wav_path": VOICE, "text": "一", "speed": 0}, "speed"),
    ({"refer_wav_path": "../../etc/passwd", "text": "一"}, "不在允许的目录内"),
])
def test_bad_requests_answer_in_api_py_shape(ref, body, words):
    assert words in assert_api_py_error(ref.client.post("/", json=body))
    assert ref.engine.calls == []


def test_root_takes_api_v2_spellings_as_tts(ref):
    # GPT-SoVITS-V2 forks serve api_v2 on /; SillyTavern's gpt-sovits-v2.js posts its fields there.
    body = {"text": "一|二", "ref_audio_path": VOICE, "text_lang": "zh", "prompt_lang": "zh",
            "text_split_method": "cut5", "batch_size": 1, "media_type": "wav", "streaming_mode": "true"}
    response = ref.client.post("/", json=body)
    assert response.status_code == 200, response.text
    np.testing.assert_array_equal(streamed_wav(response.content), expected(ref.last()))
    error = ref.client.get("/", params={**body, "text_lang": "ko"})
    assert error.status_code == 400 and set(error.json()) == {"message"}


def test_get_set_model_is_post_set_model(ref, tmp_path):
    calls = []
    ref.engine.set_model = lambda gpt=None, sovits=None: calls.append((gpt, sovits)) or {"state": "ready"}
    assert_envelope(ref.client.get("/set_model"), 3, 400)
    (tmp_path / "g.ckpt").write_bytes(b"weights")
    assert_envelope(ref.client.get("/set_model", params={"gpt_model_path": str(tmp_path / "g.ckpt")}), 0, 200)
    assert calls == [(str(tmp_path / "g.ckpt"), None)]


def test_speakers_and_ping(ref):
    assert ref.client.get("/ping").json() == {"message": "pong"}
    speakers = ref.client.get("/speakers").json()
    assert [(s["name"], s["voice_id"], s["lang"]) for s in speakers] == [("小云", VOICE, "zh")]
    preview = ref.client.get(speakers[0]["preview_url"])
    assert preview.status_code == 200 and preview.content[:4] == b"RIFF"


def test_openapi_lists_the_compatible_routes_with_summaries(ref):
    paths = ref.client.get("/openapi.json").json()["paths"]
    routes = {"/tts": ("get", "post"), "/set_gpt_weights": ("get",), "/set_sovits_weights": ("get",),
              "/set_refer_audio": ("get",), "/control": ("get", "post"), "/": ("get", "post"),
              "/change_refer": ("get", "post"), "/set_model": ("get", "post"), "/ping": ("get",),
              "/speakers": ("get",)}
    for path, methods in routes.items():
        for method in methods:
            assert paths[path][method]["summary"], (path, method)
    names = [p["name"] for p in paths["/tts"]["get"]["parameters"]]
    assert {"text", "text_lang", "ref_audio_path", "streaming_mode", "media_type", "aux_ref_audio_paths"} <= set(names)
    assert "streaming_mode" in paths["/tts"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert {"refer_wav_path", "cut_punc", "inp_refs"} <= {p["name"] for p in paths["/"]["get"]["parameters"]}
