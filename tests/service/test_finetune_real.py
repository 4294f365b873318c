"""The product end to end (api_ms.py with the golden tiny weights, through tests/support/finetune_server.py,
whose only change is stand-in trainers exporting copies of the golden GPT/SoVITS files): create a voice,
upload espeak-ng clips with transcripts, fine-tune it, kill -9 the server during the GPT training, start it
again, and see the task resume from its saved step and finish; the voice then reports its own weights and
speaks with them (a second pair loaded) while another voice still uses the default pair."""
from __future__ import annotations

import io
import json
import time

import httpx
import pytest
import soundfile as sf

from golden_data import model_file
from support.real_server import RealServer, golden_weight_args
from support.training_clips import SENTENCES, spoken_clips

pytestmark = [pytest.mark.slow, pytest.mark.server]

ZH = SENTENCES
PROMPT = "今天天气真不错，我们一起去公园散步吧。"
STOP_AT = 2  # the GPT's step at which the first server's trainer stops for good (then kill -9)


def poll(check, timeout: float, what: str, server: RealServer):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} not reached within {timeout}s\n{server.log()}")


def create_voice(server: RealServer, model_id: str, clip, png: bytes) -> None:
    files = {"avatar": ("a.png", png, "image/png"), "refer_wav": ("clip.wav", clip.read_bytes(), "audio/wav")}
    form = {"model_id": model_id, "model_name": model_id, "gender": "2", "prompt_text": PROMPT,
            "prompt_language": "中文"}
    assert httpx.post(server.url + "/voice-models", data=form, files=files, timeout=60).json()["code"] == 0


def speak(server: RealServer, model_id: str) -> None:
    response = httpx.post(server.url + "/synthesize", timeout=180,
                          json={"model_id": model_id, "text": "你好，欢迎使用语音合成系统。", "text_language": "中文", "seed": 1})
    assert response.status_code == 200, response.text
    audio, rate = sf.read(io.BytesIO(response.content), dtype="int16")
    assert rate == 32000 and abs(audio).max() > 100


def task(server: RealServer, task_id: str) -> dict:
    return httpx.get(f"{server.url}/voice-tasks/{task_id}", params={"user_id": "admin"}, timeout=30).json()["data"]


def test_finetune_survives_kill_9_and_the_voice_speaks_with_its_own_weights(tmp_path, clips, png):
    sentences = spoken_clips(tmp_path)
    events = tmp_path / "events.jsonl"
    env = {"FINETUNE_DOUBLE_GPT": str(model_file("gpt/v2/model.ckpt")),
           "FINETUNE_DOUBLE_SOVITS": str(model_file("sovits/v2/model.pth")),
           "FINETUNE_DOUBLE_EVENTS": str(events), "FINETUNE_DOUBLE_STOP_AT": f"s1:{STOP_AT}"}
    server = RealServer(tmp_path / "data", golden_weight_args("v2"), script="tests/support/finetune_server.py", env=env)
    try:
        server.start()
        assert server.wait_models()["state"] == "ready"
        create_voice(server, "tuned", clips["5s"], png)
        create_voice(server, "plain", clips["5s"], png)
        files = [("clips", (path.name, path.read_bytes(), "audio/wav")) for path in sentences]
        reply = httpx.post(server.url + "/voice-models/tuned/training-data", files=files, timeout=120,
                           data={"transcripts": ZH, "language": "zh"}).json()
        assert reply["code"] == 0, reply
        reply = httpx.post(server.url + "/voice-models/tuned/finetune", timeout=30, json={
            "user_id": "admin", "sovits_epochs": 2, "gpt_epochs": 2, "batch_size": 2, "save_every_steps": 1}).json()
        assert reply["code"] == 0, reply
        task_id = reply["data"]["task_id"]
        stopped = tmp_path / "data" / "voices" / "tuned" / "finetune" / task_id / "stopped"
        poll(stopped.exists, 300, "the GPT training's stop", server)
        midway = task(server, task_id)
        assert (midway["status"], midway["stage"], midway["step"], midway["attempts"]) == ("run", "gpt", STOP_AT - 1, 1)
        server.kill()

        del server.env["FINETUNE_DOUBLE_STOP_AT"]
        server.start()
        done = poll(lambda: (t := task(server, task_id))["status"] in ("done", "error") and t, 300, "the end", server)
        assert done["status"] == "done" and done["attempts"] == 2, done
        assert (done["stage"], done["step"], done["progress"]) == ("export", 4, 100)

        lines = [json.loads(line) for line in events.read_text().splitlines()]
        gpt_steps = [e["step"] for e in lines if e["model"] == "s1" and "step" in e]
        assert gpt_steps == [1, 2, 3, 4]  # each once: the second server went on from the saved step 1
        assert {"model": "s1", "loaded_step": STOP_AT - 1, "loaded_epoch": 0} in lines

        record = httpx.get(server.url + "/voice-models/tuned", timeout=30).json()["data"]
        assert record["weights"] == done["weights"] and record["weights"]["owned"]
        assert record["weights"]["sovits"].startswith("voices/tuned/weights/")
        speak(server, "tuned")
        speak(server, "plain")
        health = httpx.get(server.url + "/healthz", timeout=30).json()
        loaded = [(pair["gpt"], pair["sovits"]) for pair in health["voice_weights"]["loaded"]]
        assert loaded == [(record["weights"]["gpt"], record["weights"]["sovits"])], health
        assert httpx.get(server.url + "/voice-models/plain", timeout=30).json()["data"]["weights"] is None
    finally:
        server.stop()
