"""`python -m GPT_SoVITS.infer`: the pipeline from the command line, on the golden tiny models."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from golden_data import REPO_ROOT, e2e_file, model_file, model_meta
from support.real_server import e2e_weight_args

pytestmark = pytest.mark.slow


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "GPT_SoVITS.infer", "--device-target", "CPU", *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def e2e_flags(meta: dict) -> list[str]:
    """Every input of the golden run as a command-line flag, from `e2e/meta.json`."""
    args = meta["get_tts_wav_args"]
    flags = ["--ref", str(e2e_file(meta["ref_wav"])), "--prompt-text", meta["prompt_text"],
             "--text", meta["target_text"], "--noise-scale", "0"]  # meta: the golden run patched it to 0
    for name in ("prompt_language", "text_language", "how_to_cut", "top_k", "top_p", "temperature", "speed",
                 "pause_second"):
        flags += ["--" + name.replace("_", "-"), str(args[name])]
    return flags


def test_cli_writes_the_reference_waveform(tmp_path: Path):
    meta = model_meta("e2e")
    out = tmp_path / "out.wav"
    result = run_cli(*e2e_flags(meta), "--out", str(out), *e2e_weight_args())
    assert result.returncode == 0, result.stderr[-2000:]
    audio, rate = sf.read(out, dtype="int16")
    assert rate == meta["output"]["sampling_rate"]
    with np.load(model_file("e2e/golden.npz")) as golden:
        expected = golden["output_int16"]
    assert audio.shape == expected.shape
    assert np.abs(audio.astype(np.int64) - expected).max() <= 1


def test_cli_names_missing_weights(tmp_path: Path):
    result = run_cli("--ref", str(e2e_file(model_meta("e2e")["ref_wav"])), "--text", "你好。", "--out",
                     str(tmp_path / "x.wav"), "--gpt-path", str(tmp_path / "nope.ckpt"))
    assert result.returncode == 1
    assert "nope.ckpt" in result.stderr and "gpt_path" in result.stderr
    assert "Traceback" not in result.stderr
