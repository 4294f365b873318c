"""The product over HTTP against the reference's own output: `api_ms.py` on exactly the models of the
end-to-end golden run (`e2e/`), every input read from `e2e/meta.json`, and the audio of /synthesize (WAV)
and of /v1/audio/speech (pcm) equal to the golden `output_int16` within one step.

tests/pipeline/test_e2e_golden.py checks the same run one layer down (the synthesizer); this is what a
client gets: request parsing, defaults, the voice model's stored clip, the audio encoding.
"""
from __future__ import annotations

import io
import re

import httpx
import numpy as np
import pytest
import soundfile as sf

from golden_data import e2e_file, model_file, model_meta
from support.real_server import RealServer, e2e_weight_args

pytestmark = [pytest.mark.slow, pytest.mark.server]

VOICE = "golden_e2e"


def golden_noise_scale(args: dict) -> float:
    """meta records the golden run's noise scale as a number, or as "patched to 0 (...)"."""
    value = args["noise_scale"]
    if isinstance(value, (int, float)):
        return float(value)
    found = re.match(r"patched to ([0-9.]+)", value)
    assert found, f"unreadable noise_scale in e2e/meta.json: {value!r}"
    return float(found.group(1))


@pytest.fixture(scope="module")
def meta() -> dict:
    return model_meta("e2e")


@pytest.fixture(scope="module")
def expected() -> np.ndarray:
    with np.load(model_file("e2e/golden.npz")) as golden:
        return golden["output_int16"]


@pytest.fixture(scope="module", params=["batched", "--no-batching"])
def server(tmp_path_factory, meta, request):
    """The server as it starts by default (segments decoded together in a batch) and with `--no-batching`
    (one at a time, each alone): the same answers."""
    clip_folder = e2e_file(meta["ref_wav"]).parent  # requests may name the golden clip itself
    data_dir = tmp_path_factory.mktemp("golden_http") / "data"
    switch = [request.param] if request.param.startswith("--") else []
    with RealServer(data_dir, [*e2e_weight_args(), "--ref-audio-dirs", str(clip_folder), *switch]) as running:
        health = running.wait_models()
        assert health["state"] == "ready", health
        assert health["batching"]["enabled"] is not bool(switch)
        if not switch:  # the loaded batch reports what it holds
            assert {"decoding", "waiting", "capacity"} <= set(health["batching"]), health["batching"]
        yield running


def sampling_fields(meta: dict) -> dict:
    """The golden run's text, cut and sampling arguments, as the service's fields."""
    args = meta["get_tts_wav_args"]
    return {"how_to_cut": args["how_to_cut"], "top_k": args["top_k"], "top_p": args["top_p"],
            "temperature": args["temperature"], "speed": args["speed"], "noise_scale": golden_noise_scale(args)}


def assert_golden(audio: np.ndarray, expected: np.ndarray) -> None:
    assert audio.shape == expected.shape
    assert np.abs(audio.astype(np.int64) - expected).max() <= 1  # decode within 1e-5: at most one step


def test_synthesize_answers_the_reference_waveform(server, meta, expected):
    args = meta["get_tts_wav_args"]
    body = {"ref_wav_path": str(e2e_file(meta["ref_wav"])), "prompt_text": meta["prompt_text"],
            "prompt_language": args["prompt_language"], "text": meta["target_text"],
            "text_language": args["text_language"], "ref_free": args["ref_free"], **sampling_fields(meta)}
    response = httpx.post(server.url + "/synthesize", json=body, timeout=300)
    assert response.status_code == 200, response.text
    audio, rate = sf.read(io.BytesIO(response.content), dtype="int16")
    assert rate == meta["output"]["sampling_rate"]
    assert_golden(audio, expected)


def test_openai_speech_pcm_answers_the_reference_waveform(server, meta, expected, png):
    args = meta["get_tts_wav_args"]
    form = {"model_id": VOICE, "model_name": VOICE, "gender": "2", "prompt_text": meta["prompt_text"],
            "prompt_language": args["prompt_language"]}
    clip = e2e_file(meta["ref_wav"])
    files = {"avatar": ("a.png", png, "image/png"), "refer_wav": (clip.name, clip.read_bytes(), "audio/wav")}
    made = httpx.post(server.url + "/voice-models", data=form, files=files, timeout=60).json()
    assert made["code"] == 0, made
    body = {"model": "gpt-sovits", "voice": VOICE, "input": meta["target_text"], "response_format": "pcm",
            "language": args["text_language"], **sampling_fields(meta)}
    response = httpx.post(server.url + "/v1/audio/speech", json=body, timeout=300)
    assert response.status_code == 200, response.text
    assert int(response.headers["x-sample-rate"]) == meta["output"]["sampling_rate"]
    assert_golden(np.frombuffer(response.content, "<i2"), expected)

