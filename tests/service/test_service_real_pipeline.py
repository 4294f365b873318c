"""The product end to end: `api_ms.py` with the small golden weights, a voice model made from a real
espeak-ng clip, then synthesis through /synthesize and through the task queue."""
from __future__ import annotations

import io
import time

import httpx
import numpy as np
import pytest
import soundfile as sf

from golden_data import model_meta
from support.real_server import RealServer, golden_weight_args

pytestmark = [pytest.mark.slow, pytest.mark.server]

TEXT = "你好，欢迎使用语音合成系统。"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("real") / "data"
    with RealServer(data_dir, golden_weight_args("v2")) as running:
        health = running.wait_models()
        assert health["state"] == "ready", health
        yield running


@pytest.fixture(scope="module")
def voice(server, clips, png) -> str:
    files = {"avatar": ("a.png", png, "image/png"),
             "refer_wav": ("clip.wav", clips["5s"].read_bytes(), "audio/wav")}
    form = {"model_id": "golden_voice", "model_name": "金色", "gender": "2",
            "prompt_text": "今天天气真不错，我们一起去公园散步吧。", "prompt_language": "中文"}
    body = httpx.post(server.url + "/voice-models", data=form, files=files, timeout=60).json()
    assert body["code"] == 0, body
    return body["data"]["model_id"]


def check_wav(wav_bytes: bytes, segments: int = 1) -> np.ndarray:
    """32 kHz mono int16; the length is whole 25 Hz tokens of audio plus one pause per segment."""
    audio, rate = sf.read(io.BytesIO(wav_bytes), dtype="int16")
    info = sf.info(io.BytesIO(wav_bytes))
    hop, sampling_rate = (model_meta("sovits/v2")["hps"]["data"][k] for k in ("hop_length", "sampling_rate"))
    assert rate == sampling_rate and info.channels == 1 and info.subtype == "PCM_16"
    pause = model_meta("e2e")["output"]["pause_samples_appended"]  # the reference's, after each segment
    speech = audio.shape[0] - segments * pause
    assert speech > 0 and speech % (2 * hop) == 0, audio.shape
    assert np.abs(audio[:speech].astype(np.int32)).max() > 100, "silent output"
    return audio


def test_synthesize_returns_the_voice(server, voice):
    response = httpx.post(server.url + "/synthesize", timeout=120,
                          json={"model_id": voice, "text": TEXT, "text_language": "中文", "seed": 1})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("audio/wav")
    first = check_wav(response.content)
    again = httpx.post(server.url + "/synthesize", timeout=120,
                       json={"model_id": voice, "text": TEXT, "text_language": "中文", "seed": 1})
    np.testing.assert_array_equal(check_wav(again.content), first)  # same seed, same audio


def test_task_produces_the_voice(server, voice):
    submit = httpx.post(server.url + "/voice-tasks", timeout=30, json={
        "user_id": "tester", "model_id": voice, "text": TEXT + "\n" + TEXT, "how_to_cut": "cut0"}).json()
    assert submit["code"] == 0, submit
    task_id = submit["data"]["task_id"]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        task = httpx.get(f"{server.url}/voice-tasks/{task_id}", params={"user_id": "tester"}).json()["data"]
        if task["status"] in ("done", "error"):
            break
        time.sleep(0.5)
    assert task["status"] == "done", task
    assert task["segments_done"] == task["total_segments"] == 2 and task["progress"] == 100
    audio = httpx.get(f"{server.url}/voice-tasks/{task_id}/audio", params={"user_id": "tester"}, timeout=30)
    assert audio.status_code == 200
    check_wav(audio.content, segments=2)


def test_a_clip_that_no_longer_decodes_is_a_clear_error(server, voice, clips, png):
    files = {"avatar": ("a.png", png, "image/png"),
             "refer_wav": ("clip.wav", clips["5s"].read_bytes(), "audio/wav")}
    form = {"model_id": "broken_voice", "model_name": "坏", "gender": "1", "prompt_text": "今天天气真不错。"}
    assert httpx.post(server.url + "/voice-models", data=form, files=files, timeout=60).json()["code"] == 0
    for clip in (server.data_dir / "audio" / "broken_voice").glob("refer*"):
        clip.write_bytes(b"not audio any more")
    bad = httpx.post(server.url + "/synthesize", timeout=60, json={"model_id": "broken_voice", "text": TEXT})
    body = bad.json()
    assert bad.status_code == 400 and body["code"] == 3, body
    assert "参考音频" in body["message"]
    good = httpx.post(server.url + "/synthesize", timeout=120, json={"model_id": voice, "text": TEXT})
    assert good.status_code == 200
    assert httpx.get(server.url + "/healthz").json()["state"] == "ready"


def test_a_sentence_longer_than_bert_reads_is_synthesised_not_a_500(server, voice):
    """600 characters without punctuation and no cut: past the BERT's positions (read from its config),
    so the pipeline cuts it again; never a 500 with a stack trace."""
    text = ("今天天气很好我们一起去公园散步吧" * 40)[:600]
    response = httpx.post(server.url + "/synthesize", timeout=300, json={
        "model_id": voice, "text": text, "text_language": "中文", "how_to_cut": "cut0", "seed": 1})
    assert response.status_code == 200, response.text
    audio, _ = sf.read(io.BytesIO(response.content), dtype="int16")
    assert audio.size > 0
