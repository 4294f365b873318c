"""v2Pro end to end through the service: the Pro SoVITS golden, its speaker-verification model, a voice
model from an espeak-ng clip, /synthesize -> a valid WAV.

The Pro SoVITS needs the full-size speaker-verification network (a 20480-wide embedding). The
evaluation golden set has one (`sv/`); otherwise a full-size network with random weights is written
in the released file format, which exercises exactly the same loading and inference code.
"""
from __future__ import annotations

import collections
import io
import os

import httpx
import numpy as np
import pytest
import soundfile as sf

from golden_data import model_meta, model_subdirs, models_dir
from support.real_server import RealServer, golden_weight_args

pytestmark = [pytest.mark.slow, pytest.mark.server]

SV_FILE = "sv/pretrained_eres2netv2w24s4ep4.ckpt"
PRO_FOLDERS = [name for name in model_subdirs("sovits") if name.startswith("v2Pro")]


def random_full_size_sv_checkpoint(path) -> str:
    """A released-layout checkpoint (fp16 state dict, seg_1 included) of the full-size ERes2NetV2."""
    from GPT_SoVITS.models.speaker.eres2net import ERes2NetV2, ERes2NetV2Dims
    from weights.torch_writer import write_torch_zip

    dims = ERes2NetV2Dims()
    rng = np.random.default_rng(0)
    state = collections.OrderedDict()
    for name, parameter in ERes2NetV2(dims).parameters_and_names():
        shape = tuple(parameter.shape)
        if name.endswith("num_batches_tracked"):  # int64 counters, as in the released file
            state[name] = np.asarray(100, dtype=np.int64)
            continue
        if name.endswith("running_var"):
            value = 1.0 + 0.1 * rng.random(shape)
        elif name.endswith(("running_mean", "bias")):
            value = 0.05 * rng.standard_normal(shape)
        elif name.endswith("weight") and len(shape) == 1:  # BN gains
            value = 1.0 + 0.1 * rng.standard_normal(shape)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            value = rng.standard_normal(shape) / np.sqrt(fan_in)
        state[name] = np.asarray(value, dtype=np.float16)
    state["seg_1.weight"] = (0.01 * rng.standard_normal((dims.embedding_size, 2 * dims.embedding_dim))).astype(np.float16)
    state["seg_1.bias"] = np.zeros(dims.embedding_size, np.float16)
    write_torch_zip(path, state, root="pretrained_eres2netv2w24s4ep4")
    return str(path)


@pytest.fixture(scope="module")
def sv_checkpoint(tmp_path_factory) -> str:
    for root in [models_dir()] + ([] if os.environ.get("GOLDEN_DIR") else [models_dir().parents[2].parent / "shared" / "golden" / "models"]):
        if (root / SV_FILE).exists():
            return str(root / SV_FILE)
    return random_full_size_sv_checkpoint(tmp_path_factory.mktemp("sv") / "pretrained_eres2netv2w24s4ep4.ckpt")


@pytest.mark.parametrize("folder", PRO_FOLDERS)
def test_pro_voice_synthesises(folder, sv_checkpoint, tmp_path, clips, png):
    args = golden_weight_args(folder) + ["--sv-path", sv_checkpoint]
    with RealServer(tmp_path / "data", args) as server:
        health = server.wait_models(timeout=300)
        assert health["state"] == "ready", health
        assert health["versions"]["sovits"] == model_meta(f"sovits/{folder}")["hps"]["model"]["version"]
        files = {"avatar": ("a.png", png, "image/png"),
                 "refer_wav": ("clip.wav", clips["5s"].read_bytes(), "audio/wav")}
        form = {"model_id": "pro_voice", "model_name": "专业", "gender": "1", "prompt_text": "今天天气真不错。"}
        assert httpx.post(server.url + "/voice-models", data=form, files=files, timeout=60).json()["code"] == 0
        response = httpx.post(server.url + "/synthesize", timeout=300,
                              json={"model_id": "pro_voice", "text": "你好，欢迎使用语音合成系统。", "seed": 3})
        assert response.status_code == 200, response.text
        audio, rate = sf.read(io.BytesIO(response.content), dtype="int16")
        assert rate == model_meta(f"sovits/{folder}")["hps"]["data"]["sampling_rate"]
        assert audio.ndim == 1 and np.abs(audio.astype(np.int32)).max() > 100
