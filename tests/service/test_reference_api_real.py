"""The reference-compatible routes on the real server (`api_ms.py` on the models of the end-to-end golden
run): api_v2's /tts answers the reference's waveform, whole (GET, a WAV) and streamed (POST,
streaming_mode 1: a WAV header, then the same samples as raw PCM); api.py's GET / speaks; /speakers and
/ping answer; /control restarts the process in place and then stops it.

The /control test stops the module's server, so it comes last."""
from __future__ import annotations

import io
import signal
import struct

import httpx
import numpy as np
import pytest
import soundfile as sf

from golden_data import e2e_file
from support.processes import log_size, wait_listening
from support.real_server import RealServer, e2e_weight_args
from test_golden_http import assert_golden, expected, golden_noise_scale, meta  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.server]

VOICE = "golden_e2e"
TIMEOUT = 300


@pytest.fixture(scope="module")
def server(tmp_path_factory, meta, png):
    data_dir = tmp_path_factory.mktemp("reference_api") / "data"
    with RealServer(data_dir, [*e2e_weight_args(), "--allow-control"]) as running:
        assert running.wait_models()["state"] == "ready"
        args = meta["get_tts_wav_args"]
        clip = e2e_file(meta["ref_wav"])
        form = {"model_id": VOICE, "model_name": "金色", "gender": "2", "prompt_text": meta["prompt_text"],
                "prompt_language": args["prompt_language"]}
        files = {"avatar": ("a.png", png, "image/png"), "refer_wav": (clip.name, clip.read_bytes(), "audio/wav")}
        assert httpx.post(running.url + "/voice-models", data=form, files=files, timeout=60).json()["code"] == 0
        yield running


def golden_query(meta: dict) -> dict:
    """The golden run's arguments as api_v2's /tts parameters, spelt as query strings."""
    args = meta["get_tts_wav_args"]
    return {"text": meta["target_text"], "text_lang": "all_zh", "ref_audio_path": VOICE, "prompt_lang": "all_zh",
            "text_split_method": "cut0", "top_k": str(args["top_k"]), "top_p": str(args["top_p"]),
            "temperature": str(args["temperature"]), "speed_factor": str(args["speed"]),
            "fragment_interval": str(args["pause_second"]), "noise_scale": str(golden_noise_scale(args)),
            "media_type": "wav"}


def test_get_tts_answers_the_reference_waveform(server, meta, expected):
    response = httpx.get(server.url + "/tts", params=golden_query(meta), timeout=TIMEOUT)
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav", response.text
    audio, rate = sf.read(io.BytesIO(response.content), dtype="int16")
    assert rate == meta["output"]["sampling_rate"]
    assert_golden(audio, expected)


def test_post_tts_streams_a_header_then_the_reference_samples(server, meta, expected):
    body = {**golden_query(meta), "streaming_mode": 1}
    with httpx.stream("POST", server.url + "/tts", json=body, timeout=TIMEOUT) as response:
        assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
        data = response.read()
    assert data[:4] == b"RIFF" and data[36:40] == b"data"
    assert struct.unpack("<I", data[24:28])[0] == meta["output"]["sampling_rate"]
    assert_golden(np.frombuffer(data[44:], "<i2"), expected)


def test_api_py_root_speaks_and_the_polled_routes_answer(server, meta):
    query = {"refer_wav_path": VOICE, "text": meta["target_text"], "text_language": "zh"}
    response = httpx.get(server.url + "/", params=query, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    audio, rate = sf.read(io.BytesIO(response.content), dtype="int16")
    assert rate == meta["output"]["sampling_rate"] and audio.size > meta["output"]["pause_samples_appended"]
    assert np.abs(audio.astype(np.int32)).max() > 100, "silent output"
    speakers = httpx.get(server.url + "/speakers").json()
    assert [(s["voice_id"], s["lang"]) for s in speakers] == [(VOICE, "zh")]
    assert httpx.get(server.url + "/ping").json() == {"message": "pong"}
    refused = httpx.get(server.url + "/tts", params={**query, "ref_audio_path": "/etc/passwd", "text_lang": "zh"})
    assert refused.status_code == 400 and set(refused.json()) == {"message"}


def test_control_restarts_in_place_then_exits(server):
    offset = log_size(server.log_path)
    assert httpx.get(server.url + "/control", params={"command": "restart"}).status_code == 200
    server.port = wait_listening(server.proc, server.log_path, offset, timeout=120)  # same process, new port
    assert httpx.get(server.url + "/ping", timeout=30).status_code == 200
    assert server.proc.poll() is None
    assert httpx.get(server.url + "/control", params={"command": "exit"}, timeout=30).status_code == 200
    # uvicorn's graceful shutdown on SIGTERM, which it then re-raises: the exit status is that signal's
    assert server.proc.wait(timeout=60) in (0, -signal.SIGTERM)
    log = server.log_path.read_text(errors="replace")[offset:]
    assert f"Started server process [{server.proc.pid}]" in log and "Application shutdown complete" in log
