"""`max_prompt_chars` bounds prompt_text and every other free-text field on every route that takes one:
a 2,000,000-character value (default limit) and a value one character over a small limit are refused
with code 3 (OpenAI's error shape on /v1), naming the field, and nothing is stored or synthesised."""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_helpers import assert_envelope, create_model, snapshot

from support.stream_engine import StreamEngine
from support.tasks import REF, settings_for, task_files
from tts_service.app import create_app

LIMIT = 50
HUGE = 2_000_000
MULTIPART_FIELD_LIMIT = 1024 * 1024  # bytes; Starlette refuses a bigger form field itself (code 3 too)
SIZES = [({}, HUGE), ({"max_prompt_chars": LIMIT}, LIMIT + 1)]  # (settings, characters sent)


@contextlib.contextmanager
def service(tmp_path: Path, clips, png, **settings):
    """A running app (task queue included) with the test engine, one category and one voice model."""
    engine = StreamEngine()
    with TestClient(create_app(settings_for(tmp_path / "data", **settings), engine=engine)) as client:
        assert client.post("/voice-categories", json={"category_id": "c1", "category_name": "新闻"}).json()["code"] == 0
        assert create_model(client, clips["5s"], png, "xiaoyun").json()["code"] == 0
        yield client, engine


def _synthesize(client, text, clips, png):
    return client.post("/synthesize", json={"model_id": "xiaoyun", "text": "你好。", "prompt_text": text})


def _stream(client, text, clips, png):
    return client.post("/synthesize", json={"ref_wav_path": REF, "text": "你好。", "prompt_language": text,
                                            "stream": True})


def _task(client, text, clips, png):
    return client.post("/voice-tasks", json={"user_id": "u1", "model_id": "xiaoyun", "text": "你好。",
                                             "prompt_text": text})


def _create_model(client, text, clips, png):
    return create_model(client, clips["5s"], png, "another", prompt_text=text)


def _edit_model(client, text, clips, png):
    return client.patch("/voice-models/xiaoyun", data={"prompt_text": text})


def _create_category(client, text, clips, png):
    return client.post("/voice-categories", json={"category_id": "c2", "category_name": "体育", "description": text})


def _edit_category(client, text, clips, png):
    return client.patch("/voice-categories/c1", json={"description": text})


def _set_model(client, text, clips, png):
    return client.post("/set_model", json={"gpt_model_path": text})


ROUTES = {  # route -> (call, the field it fills, sent as a multipart form)
    "synthesize": (_synthesize, "prompt_text", False),
    "synthesize-stream": (_stream, "prompt_language", False),
    "task": (_task, "prompt_text", False),
    "create-model": (_create_model, "prompt_text", True),
    "edit-model": (_edit_model, "prompt_text", True),
    "create-category": (_create_category, "description", False),
    "edit-category": (_edit_category, "description", False),
    "set-model": (_set_model, "gpt_model_path", False),
}


@pytest.mark.parametrize("route", ROUTES)
def test_an_overlong_field_is_refused_and_nothing_is_stored(tmp_path, clips, png, route):
    call, field, multipart = ROUTES[route]
    for number, (settings, length) in enumerate(SIZES):
        with service(tmp_path / str(number), clips, png, **settings) as (client, engine):
            data_dir = client.app.state.settings.data_dir
            before = snapshot(data_dir)
            body = assert_envelope(call(client, "字" * length, clips, png), 3, 400)
            if not (multipart and 3 * length > MULTIPART_FIELD_LIMIT):  # else Starlette's message
                limit = client.app.state.settings.max_prompt_chars
                assert field in body["message"] and str(limit) in body["message"], body
            assert snapshot(data_dir) == before
            assert engine.calls == [] and task_files(data_dir) == {}
            assert not (data_dir / "output" / "direct").exists() or not any((data_dir / "output" / "direct").iterdir())


@pytest.mark.parametrize("settings, length", SIZES, ids=["2M-chars", "limit+1"])
def test_openai_route_refuses_an_overlong_field_in_its_own_shape(tmp_path, clips, png, settings, length):
    with service(tmp_path, clips, png, **settings) as (client, engine):
        reply = client.post("/v1/audio/speech", json={"model": "tts-1", "input": "你好。", "voice": "xiaoyun",
                                                      "instructions": "慢" * length})
        assert reply.status_code == 400, reply.text
        error = reply.json()["error"]
        assert (error["param"], error["code"], error["type"]) == ("instructions", "string_above_max_length",
                                                                  "invalid_request_error")
        assert engine.calls == []


def test_the_limit_itself_is_allowed_and_one_more_is_not(tmp_path, clips, png):
    with service(tmp_path, clips, png, max_prompt_chars=LIMIT) as (client, engine):
        assert create_model(client, clips["5s"], png, "exact", prompt_text="字" * LIMIT).json()["code"] == 0
        assert _synthesize(client, "字" * LIMIT, clips, png).status_code == 200
        assert engine.calls[0].prompt_text == "字" * LIMIT
        assert create_model(client, clips["5s"], png, "over", prompt_text="字" * (LIMIT + 1)).json()["code"] == 3


@pytest.mark.parametrize("request_body, path", [
    ({"ref_wav_path": "audio/" + "a" * 300, "text": "你好。"}, "/synthesize"),  # a name over the OS's 255 bytes
    ({"gpt_model_path": "a" * 300 + ".ckpt"}, "/set_model"),
])
def test_a_file_name_the_os_refuses_is_a_bad_parameter_not_a_crash(client, request_body, path):
    assert_envelope(client.post(path, json=request_body), 3, 400)
