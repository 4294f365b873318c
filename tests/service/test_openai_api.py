"""/v1 with a test-double engine: request -> options, OpenAI's error shape for every bad input and for
the guards, model and voice listings, and a whole streamed body decoded back."""
from __future__ import annotations

import numpy as np
import pytest
from service_helpers import create_model

from support.stream_engine import SAMPLE_RATE, StreamEngine, segment_audio


@pytest.fixture
def engine() -> StreamEngine:
    return StreamEngine()


@pytest.fixture
def api(make_client, engine, clips, png):
    client = make_client(engine=engine)
    assert create_model(client, clips["5s"], png, "xiaoyun", prompt_text="今天天气真不错",
                        prompt_language="all_zh").status_code == 200
    return client


def speech(client, **fields):
    body = {"model": "gpt-sovits", "input": "你好|世界", "voice": "xiaoyun", "response_format": "pcm", **fields}
    return client.post("/v1/audio/speech", json=body)


def assert_openai_error(response, status: int, param: str | None) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert error["message"] and error["type"] and error["param"] == param, error
    return error


def test_pcm_body_is_every_segment_in_order(api, engine):
    response = speech(api, input="一|二|三")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/pcm"
    assert response.headers["x-sample-rate"] == str(SAMPLE_RATE)
    samples = np.frombuffer(response.content, "<i2")
    clip = engine.calls[0].ref_wav_path
    np.testing.assert_array_equal(samples, np.concatenate([segment_audio(clip, i) for i in range(3)]))


def test_voice_fills_clip_prompt_and_extensions(api, engine):
    response = speech(api, voice={"id": "xiaoyun"}, speed=3.5, seed=9, language="en", how_to_cut="cut0",
                      top_k=3, instructions="speak softly", stream=True)
    assert response.status_code == 200, response.text
    options = engine.calls[0]
    assert options.ref_wav_path.endswith("xiaoyun/refer.wav") and options.prompt_text == "今天天气真不错"
    assert options.prompt_language == "all_zh" and options.text_language == "en"
    assert (options.speed, options.seed, options.how_to_cut, options.sampling.top_k) == (3.5, 9, "cut0", 3)


def test_openai_defaults(api, engine):
    response = api.post("/v1/audio/speech", json={"model": "tts-1", "input": "hello", "voice": "xiaoyun"})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/mpeg"  # OpenAI: mp3
    options = engine.calls[0]
    assert (options.text_language, options.how_to_cut, options.speed) == ("auto", "cut5", 1.0)


@pytest.mark.parametrize("fields, status, param", [
    ({"voice": "nobody"}, 404, "voice"),
    ({"voice": "no such/voice"}, 400, "voice"),
    ({"input": "   "}, 400, "input"),
    ({"response_format": "ogg"}, 400, "response_format"),
    ({"speed": 4.5}, 400, "speed"),
    ({"speed": 0.1}, 400, "speed"),
    ({"model": "whisper-1"}, 404, "model"),
    ({"language": "klingon"}, 400, "language"),
    ({"how_to_cut": "cut9"}, 400, "how_to_cut"),
    ({"speed": "fast"}, 400, "speed"),
    ({"stream_format": "sse"}, 400, "stream_format"),
])
def test_bad_inputs_are_openai_errors(api, engine, fields, status, param):
    error = assert_openai_error(speech(api, **fields), status, param)
    assert error["type"] == "invalid_request_error"
    assert engine.calls == []


def test_missing_field_and_bad_json(api):
    assert_openai_error(api.post("/v1/audio/speech", json={"model": "tts-1", "voice": "xiaoyun"}), 400, "input")
    error = assert_openai_error(api.post("/v1/audio/speech", content=b"{nope",
                                         headers={"content-type": "application/json"}), 400, None)
    assert "JSON" in error["message"]


def test_too_long_input(make_client, engine, clips, png):
    client = make_client(engine=engine, max_text_chars=10)
    create_model(client, clips["5s"], png, "xiaoyun")
    error = assert_openai_error(speech(client, input="字" * 11), 400, "input")
    assert error["code"] == "string_above_max_length"


def test_unsynthesisable_text_is_an_error_before_any_audio(api):
    error = assert_openai_error(speech(api, input="FAIL|二"), 400, "input")
    assert "测试" in error["message"]


def test_missing_weights_is_a_server_error(make_client, clips, png):
    client = make_client()  # the real engine, with no weights
    create_model(client, clips["5s"], png, "xiaoyun")
    error = assert_openai_error(speech(client), 503, None)
    assert error["type"] == "server_error" and "--gpt-path" in error["message"]


def test_api_key_as_bearer(make_client, engine):
    client = make_client(engine=engine, api_key="s3cret")
    error = assert_openai_error(client.get("/v1/models"), 401, None)
    assert error["code"] == "invalid_api_key"
    headers = {"Authorization": "Bearer s3cret"}
    assert client.get("/v1/models", headers=headers).status_code == 200
    # other routes keep the service's envelope for the same refusal
    assert set(client.get("/voice-models").json()) == {"code", "message", "data"}


def test_unknown_v1_path_and_method(api):
    assert_openai_error(api.get("/v1/nothing"), 404, None)
    assert_openai_error(api.get("/v1/audio/speech"), 405, None)


def test_models_listing(api):
    body = api.get("/v1/models").json()
    assert body["object"] == "list" and {"gpt-sovits", "tts-1"} <= {m["id"] for m in body["data"]}
    assert all(m["object"] == "model" for m in body["data"])
    assert api.get("/v1/models/tts-1").json()["id"] == "tts-1"
    assert_openai_error(api.get("/v1/models/nope"), 404, "model")


def test_voices_listing(api, clips, png):
    create_model(api, clips["5s"], png, "laowang", model_name="老王", gender="1")
    body = api.get("/v1/audio/voices").json()
    assert body["object"] == "list"
    voices = {v["id"]: v for v in body["data"]}
    assert set(voices) == {"xiaoyun", "laowang"}
    assert voices["laowang"]["name"] == "老王" and voices["laowang"]["object"] == "voice"
    assert api.get(voices["xiaoyun"]["preview_url"]).status_code == 200
