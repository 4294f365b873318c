"""The service's seam to its engine: one protocol that the real engine and every test stand-in satisfy (no
method is optional), the stream's sample rate taken from the engine itself, and pipeline errors answered
by the envelope's one handler, naming the field they are about."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
from service_helpers import assert_envelope, create_model

from GPT_SoVITS.pipeline import InputError, ReferenceClipError
from support.engine_double import EngineDouble
from support.fake_engine import FakeEngine
from support.stream_engine import StreamEngine
from test_formats import ToneEngine
from test_service_backpressure import BlockingEngine
from test_service_synthesis import FakeEngine as RecordingEngine
from tts_service.engine import AudioStream, Engine, SpeechEngine
from tts_service.settings import Settings

OPENAI = {"model": "gpt-sovits", "input": "你好", "voice": "m1", "response_format": "pcm"}


def protocol_methods() -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(SpeechEngine).items()
            if callable(member) and not name.startswith("_")}


@pytest.mark.parametrize("kind", [Engine, FakeEngine, StreamEngine, ToneEngine, BlockingEngine, RecordingEngine],
                         ids=lambda kind: kind.__name__)
def test_the_engine_and_every_stand_in_satisfy_one_protocol(kind, tmp_path):
    engine = kind(Settings(data_dir=tmp_path)) if kind is Engine else kind()
    assert isinstance(engine, SpeechEngine)
    for name, wanted in protocol_methods().items():
        given = inspect.signature(getattr(engine, name))
        assert list(given.parameters) == list(wanted.parameters)[1:], name  # same arguments, `self` bound


class OddRateEngine(EngineDouble):
    """Streams at 24 kHz while its status knows no rate (as the real engine's before loading)."""

    def status(self) -> dict:
        return {**super().status(), "sample_rate": None}

    def stream(self, options, should_cancel=None) -> AudioStream:
        return AudioStream(24000, iter([np.zeros(2400, np.int16), np.ones(2400, np.int16)]))


def test_a_stream_says_the_rate_the_engine_streams_at(make_client, clips, png):
    client = make_client(engine=OddRateEngine())
    create_model(client, clips["5s"], png, "m1")
    direct = client.post("/synthesize", json={"model_id": "m1", "text": "你好", "stream": True,
                                              "response_format": "pcm"})
    openai = client.post("/v1/audio/speech", json=OPENAI)
    for response in (direct, openai):
        assert response.status_code == 200 and response.headers["x-sample-rate"] == "24000"
        assert len(response.content) == 2 * 4800


@pytest.mark.parametrize("error,field,openai_param", [
    (InputError("文本清洗后为空"), "text", "input"), (ReferenceClipError("参考音频需 3-10 秒"), "ref_wav_path", "voice")])
def test_pipeline_input_errors_name_their_field_on_every_route(make_client, clips, png, error, field, openai_param):
    client = make_client(engine=RecordingEngine(error))
    create_model(client, clips["5s"], png, "m1")
    for body in ({"model_id": "m1", "text": "你好"}, {"model_id": "m1", "text": "你好", "stream": True}):
        answer = assert_envelope(client.post("/synthesize", json=body), 3, 400)
        assert answer["message"] == str(error) and answer["data"] == {"param": field, "code": "invalid_input"}
    reply = client.post("/v1/audio/speech", json=OPENAI)
    assert reply.status_code == 400
    assert reply.json()["error"] | {"message": None} == {"message": None, "type": "invalid_request_error",
                                                         "param": openai_param, "code": "invalid_input"}
