"""The product with the small golden weights: a voice given its own GPT/SoVITS files (copies of the golden
ones, so the engine really loads a second pair beside the default) speaks with them, while another voice
still uses the default pair; /healthz names the loaded pair and the voice record its files."""
from __future__ import annotations

import io
import shutil

import httpx
import pytest
import soundfile as sf

from golden_data import model_file
from support.real_server import RealServer, golden_weight_args

pytestmark = [pytest.mark.slow, pytest.mark.server]

TEXT = "你好，欢迎使用语音合成系统。"
PROMPT = "今天天气真不错，我们一起去公园散步吧。"


def create_voice(server: RealServer, model_id: str, clip, png: bytes) -> None:
    files = {"avatar": ("a.png", png, "image/png"), "refer_wav": ("clip.wav", clip.read_bytes(), "audio/wav")}
    form = {"model_id": model_id, "model_name": model_id, "gender": "2", "prompt_text": PROMPT,
            "prompt_language": "中文"}
    body = httpx.post(server.url + "/voice-models", data=form, files=files, timeout=60).json()
    assert body["code"] == 0, body


def speak(server: RealServer, model_id: str) -> int:
    response = httpx.post(server.url + "/synthesize", timeout=180,
                          json={"model_id": model_id, "text": TEXT, "text_language": "中文", "seed": 1})
    assert response.status_code == 200, response.text
    audio, rate = sf.read(io.BytesIO(response.content), dtype="int16")
    assert audio.shape[0] > 0 and abs(audio).max() > 100, "silent output"
    return rate


def test_a_voice_speaks_with_its_own_weights_beside_the_default_pair(tmp_path, clips, png):
    own = tmp_path / "own"
    own.mkdir()
    gpt, sovits = own / "tuned-e1.ckpt", own / "tuned_e1_s2.pth"
    shutil.copyfile(model_file("gpt/v2/model.ckpt"), gpt)
    shutil.copyfile(model_file("sovits/v2/model.pth"), sovits)
    with RealServer(tmp_path / "data", golden_weight_args("v2")) as server:
        assert server.wait_models()["state"] == "ready"
        create_voice(server, "tuned", clips["5s"], png)
        create_voice(server, "plain", clips["5s"], png)
        body = httpx.put(server.url + "/voice-models/tuned/weights", timeout=30,
                         json={"gpt_path": str(gpt), "sovits_path": str(sovits)}).json()
        assert body["code"] == 0, body
        assert (body["data"]["weights"]["gpt"], body["data"]["weights"]["sovits"]) == (gpt.name, sovits.name)

        assert speak(server, "plain") == speak(server, "tuned") == 32000
        health = httpx.get(server.url + "/healthz", timeout=30).json()
        loaded = health["voice_weights"]["loaded"]
        assert [(pair["gpt"], pair["sovits"]) for pair in loaded] == [(gpt.name, sovits.name)], health
        assert loaded[0]["versions"]["sovits"] == "v2"
        speak(server, "plain")  # the default pair still serves the other voice
        assert httpx.get(server.url + "/voice-models/plain", timeout=30).json()["data"]["weights"] is None
