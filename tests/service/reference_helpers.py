"""Helpers of the tests of the reference-compatible routes (api_v2's /tts, api.py's /): a service with
a voice model and an allowed folder of clips, and readers of the audio shapes those clients expect."""
from __future__ import annotations

import io
import shutil
import struct
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from fastapi.testclient import TestClient
from service_helpers import create_model

from support.stream_engine import SAMPLE_RATE, StreamEngine, segment_audio

VOICE = "XiaoYun"  # mixed case: AstrBot lower-cases every setting it sends
PROMPT = "今天天气真不错"
CLIP_NAME = "Voices/Narrator One.wav"  # inside the allowed folder; mixed case and a space on purpose
WAV_HEADER = 44


@dataclass
class Reference:
    client: TestClient
    engine: StreamEngine
    refs: Path  # the folder given as --ref-audio-dirs
    clip: Path  # a clip inside it

    def last(self):
        return self.engine.calls[-1]


def reference_service(make_client, tmp_path: Path, clips: dict, png: bytes, **settings) -> Reference:
    """A service with the voice model VOICE and one clip under an allowed folder."""
    refs = tmp_path / "Refs"
    clip = refs / CLIP_NAME
    clip.parent.mkdir(parents=True)
    shutil.copy(clips["5s"], clip)
    engine = StreamEngine()
    client = make_client(engine=engine, ref_audio_dirs=(str(refs),), **settings)
    if settings.get("api_key"):
        client.headers["X-API-Key"] = settings["api_key"]
    assert create_model(client, clips["5s"], png, VOICE, prompt_text=PROMPT, prompt_language="zh").status_code == 200
    client.headers.pop("X-API-Key", None)
    return Reference(client, engine, refs, clip)


def expected(options) -> np.ndarray:
    """What StreamEngine voices for these options: one tone per `|`-separated piece."""
    pieces = options.text.split("|")
    return np.concatenate([segment_audio(options.ref_wav_path, i) for i in range(len(pieces))])


def whole_wav(data: bytes) -> np.ndarray:
    """A complete WAV (exact sizes), read with Python's own `wave`, as several clients do."""
    with wave.open(io.BytesIO(data), "rb") as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, SAMPLE_RATE)
        frames = reader.readframes(reader.getnframes())
    return np.frombuffer(frames, "<i2")


def streamed_wav(data: bytes) -> np.ndarray:
    """api_v2's stream: one 44-byte header (16-bit mono at the model's rate), then raw PCM to the end.
    Also readable whole by libsndfile, as a client that saves the body would play it."""
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt " and data[36:40] == b"data", data[:WAV_HEADER]
    assert struct.unpack("<HHIIHH", data[20:36]) == (1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    samples = np.frombuffer(data[WAV_HEADER:], "<i2")
    saved, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == SAMPLE_RATE
    np.testing.assert_array_equal(saved, samples)
    return samples


def decoded(data: bytes) -> np.ndarray:
    """Any container ffmpeg reads, as 16-bit mono samples at the model's rate."""
    done = subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar",
                           str(SAMPLE_RATE), "pipe:1"], input=data, capture_output=True, check=True)
    return np.frombuffer(done.stdout, "<i2")


def assert_reference_error(response, status: int = 400, *extra: str) -> str:
    """api_v2's error: the status, `{"message": ...}` (plus the keys named), never the envelope."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"message", *extra}, body
    assert body["message"] and "Traceback" not in response.text
    return body["message"]
