"""Output formats: the encoders (whole and streamed) decoded back with ffmpeg/libsndfile, /synthesize's
`response_format`, and task results converted on download (`?format=`)."""
from __future__ import annotations

import contextlib
import io
import subprocess

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from service_helpers import assert_envelope, create_model, run_coroutine

from support.engine_double import EngineDouble
from support.fake_engine import FakeEngine, expected_audio
from support.tasks import settings_for, task_body, wait_status
from tts_service import audio_formats
from tts_service.app import create_app
from tts_service.audio_formats import FORMATS, check_format, encode, encode_stream

RATE = 32000
LOSSLESS = ("wav", "flac", "pcm")




def tone(seconds: float = 0.5, hz: float = 330.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (np.sin(2 * np.pi * hz * t) * 12000).astype(np.int16)


def decode(data: bytes, fmt: str, rate: int = RATE) -> tuple[int, np.ndarray]:
    if fmt == "pcm":
        return rate, np.frombuffer(data, "<i2")
    done = subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "wav", "pipe:1"], input=data,
                          capture_output=True, check=True)
    audio, decoded_rate = sf.read(io.BytesIO(done.stdout), dtype="int16")
    return decoded_rate, audio


def check_decoded(data: bytes, fmt: str, samples: np.ndarray) -> None:
    rate, audio = decode(data, fmt)
    if fmt in LOSSLESS:
        assert rate == RATE
        np.testing.assert_array_equal(audio, samples)
        return
    assert rate == (48000 if fmt == "opus" else RATE)  # Ogg Opus exists only at 48 kHz
    n = len(samples) * rate // RATE
    assert n <= len(audio) <= n + rate // 10, (len(audio), n)  # encoder delay/padding, never a loss
    # the tone survives: same loudness within a few dB, the same dominant frequency
    level = np.sqrt(np.mean(audio.astype(np.float64) ** 2)) / np.sqrt(np.mean(samples.astype(np.float64) ** 2))
    assert 0.7 < level < 1.3, level
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64)))
    peak_hz = np.argmax(spectrum) * rate / len(audio)
    assert abs(peak_hz - 330) < 5, peak_hz


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_whole_file_round_trip(fmt):
    samples = tone()
    check_decoded(encode(samples, RATE, FORMATS[fmt]), fmt, samples)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_stream_round_trip_equals_the_whole(fmt):
    pieces = [tone(0.3), tone(0.2), tone(0.4)]

    async def chunks():
        for piece in pieces:
            yield piece

    async def collect() -> bytes:
        return b"".join([data async for data in encode_stream(chunks(), RATE, FORMATS[fmt])])

    check_decoded(run_coroutine(collect()), fmt, np.concatenate(pieces))


def test_stream_error_raises_and_stops_the_encoder():
    async def chunks():
        yield tone(0.2)
        raise RuntimeError("segment 2 failed")

    async def collect():
        return [data async for data in encode_stream(chunks(), RATE, FORMATS["mp3"])]

    with pytest.raises(RuntimeError, match="segment 2 failed"):
        run_coroutine(collect())


def test_format_names():
    assert check_format(None).name == "wav" and check_format("MP3").name == "mp3"
    assert check_format("ogg") is None and check_format("", default="mp3").name == "mp3"


def test_missing_ffmpeg_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(audio_formats.shutil, "which", lambda name: None)
    with pytest.raises(audio_formats.EncodingError, match="ffmpeg is not installed"):
        encode(tone(), RATE, FORMATS["mp3"])
    assert encode(tone(), RATE, FORMATS["wav"])[:4] == b"RIFF"  # wav and pcm need no ffmpeg


# ---- /synthesize ------------------------------------------------------------------------------------
class ToneEngine(EngineDouble):
    def synthesize(self, options, on_progress=None, should_cancel=None):
        return RATE, tone()


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_synthesize_response_format(make_client, clips, png, fmt):
    client = make_client(engine=ToneEngine())
    create_model(client, clips["5s"], png, "m1")
    response = client.post("/synthesize", json={"model_id": "m1", "text": "你好", "response_format": fmt})
    assert response.status_code == 200 and response.headers["content-type"] == FORMATS[fmt].media_type
    check_decoded(response.content, fmt, tone())
    saved = response.headers["x-output-url"]
    assert saved.endswith("." + FORMATS[fmt].extension)
    assert client.get(saved).content == response.content


def test_synthesize_format_alias_and_bad_format(make_client, clips, png):
    client = make_client(engine=ToneEngine())
    create_model(client, clips["5s"], png, "m1")
    response = client.post("/synthesize", json={"model_id": "m1", "text": "你好", "format": "flac"})
    assert response.headers["content-type"] == "audio/flac"
    body = assert_envelope(client.post("/synthesize", json={"model_id": "m1", "text": "你好", "format": "ogg"}),
                           3, 400)
    assert "mp3" in body["message"]


# ---- task results -----------------------------------------------------------------------------------
@contextlib.contextmanager
def running_app(data_dir):
    app = create_app(settings_for(data_dir), engine=FakeEngine(segments=2))
    with TestClient(app) as client:
        yield client


def test_task_result_in_every_format(tmp_path):
    text = "第一句。第二句。"
    with running_app(tmp_path) as client:
        assert client.post("/voice-tasks", json=task_body("u1", text, task_id="job-1")).json()["code"] == 0
        assert wait_status(client, "job-1", "u1")["status"] == "done"
        expected = expected_audio(text, 2)
        for fmt in FORMATS:
            response = client.get("/voice-tasks/job-1/audio", params={"user_id": "u1", "format": fmt})
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == FORMATS[fmt].media_type
            assert f'filename="job-1.{FORMATS[fmt].extension}"' in response.headers["content-disposition"]
            rate, audio = decode(response.content, fmt)
            assert rate == (48000 if fmt == "opus" else RATE)
            if fmt in LOSSLESS:
                np.testing.assert_array_equal(audio, expected)
            else:
                assert len(audio) >= len(expected) * rate // RATE and np.abs(audio).max() > 1000
        bad = client.get("/voice-tasks/job-1/audio", params={"user_id": "u1", "format": "ogg"})
        assert_envelope(bad, 3, 400)
        other = client.get("/voice-tasks/job-1/audio", params={"user_id": "bob", "format": "mp3"})
        assert other.status_code == 404  # another user's task still does not exist for them
