"""`python -m GPT_SoVITS.infer`: the pipeline from the command line, on the golden tiny models."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from golden_data import REPO_ROOT, model_file, model_meta

pytestmark = pytest.mark.slow


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "GPT_SoVITS.infer", "--device-target", "CPU", *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def weight_flags() -> list[str]:
    return ["--gpt-path", str(model_file("gpt/v2/model.ckpt")), "--sovits-path", str(model_file("sovits/v2/model.pth")),
            "--cnhubert-base-path", str(model_file("hubert/chinese-hubert-base/pytorch_model.bin").parent),
            "--bert-path", str(model_file("bert/chinese-roberta-wwm-ext-large/pytorch_model.bin").parent)]


def test_cli_writes_the_reference_waveform(tmp_path: Path):
    meta = model_meta("e2e")
    args = meta["get_tts_wav_args"]
    out = tmp_path / "out.wav"
    result = run_cli("--ref", str(model_file("sovits/v2/ref.wav")), "--prompt-text", meta["prompt_text"],
                     "--text", meta["target_text"], "--out", str(out), "--top-k", str(args["top_k"]),
                     "--top-p", str(args["top_p"]), "--temperature", str(args["temperature"]),
                     "--noise-scale", "0", "--how-to-cut", args["how_to_cut"], *weight_flags())
    assert result.returncode == 0, result.stderr[-2000:]
    audio, rate = sf.read(out, dtype="int16")
    assert rate == meta["output"]["sampling_rate"]
    with np.load(model_file("e2e/golden.npz")) as golden:
        expected = golden["output_int16"]
    assert audio.shape == expected.shape
    assert np.abs(audio.astype(np.int64) - expected).max() <= 1


def test_cli_names_missing_weights(tmp_path: Path):
    result = run_cli("--ref", str(model_file("sovits/v2/ref.wav")), "--text", "你好。", "--out",
                     str(tmp_path / "x.wav"), "--gpt-path", str(tmp_path / "nope.ckpt"))
    assert result.returncode == 1
    assert "nope.ckpt" in result.stderr and "gpt_path" in result.stderr
    assert "Traceback" not in result.stderr
