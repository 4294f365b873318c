"""Fixtures for the service tests: a fresh data dir per test, real speech clips made with espeak-ng
and sox, a real PNG, and a snapshot of everything a refused request must leave untouched.

Without espeak-ng, sox or ffmpeg the tests that need real clips skip, or fail where the run must not
skip (CI, TESTS_NO_SKIP=1, --no-skip: support/required.py), naming the tool and its package."""
from __future__ import annotations

import io
import subprocess
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tts_service.app import create_app
from tts_service.settings import Settings

from support.required import need_tool

SPEECH = "今天天气真不错，我们一起去公园散步吧。欢迎使用语音合成服务，祝你有美好的一天。"


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Speech clips of exact lengths: 5 s (wav and mp3), 2.9 s and 10.1 s (outside the 3-10 s rule)."""
    for tool in ("espeak-ng", "sox", "ffmpeg"):
        need_tool(tool)
    folder = tmp_path_factory.mktemp("clips")
    speech = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "zh", "-w", str(speech), SPEECH], check=True)
    made = {}
    for name, seconds in (("5s", 5.0), ("2.9s", 2.9), ("10.1s", 10.1)):
        made[name] = folder / f"clip_{name}.wav"
        # pad with silence, then cut: the result is exactly `seconds` long whatever espeak produced
        subprocess.run(["sox", str(speech), str(made[name]), "pad", "0", "12", "trim", "0", str(seconds)],
                       check=True, capture_output=True)
    made["5s_mp3"] = folder / "clip_5s.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(made["5s"]), str(made["5s_mp3"])], check=True)
    return made


@pytest.fixture(scope="session")
def png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (40, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def make_client(tmp_path):
    """make_client(**settings) -> TestClient on a new app whose data dir is this test's tmp dir."""
    def make(engine=None, **overrides) -> TestClient:
        settings = Settings(data_dir=tmp_path / "data", load_models=False, **overrides)
        return TestClient(create_app(settings, engine=engine), raise_server_exceptions=False)
    return make


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


@pytest.fixture
def data_dir(client) -> Path:
    return client.app.state.settings.data_dir


@pytest.fixture
def hold():
    """An event a test double's engine waits on mid-task; set at the end so no worker thread is left waiting."""
    event = threading.Event()
    yield event
    event.set()
