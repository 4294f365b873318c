"""Golden slice boundaries of the reference's tools/slicer2.py, for tests/training/test_slicer.py.

    REF_DIR=/work/ref /work/torch-venv/bin/python tools/training_golden/make_prep_golden.py

Needs only numpy (slicer2 imports nothing else at module level). Writes to
tests/golden/training/prep/ (or $GOLDEN_TRAINING_DIR/prep): `slicer.npz` (the 32 kHz int16 signal and,
per settings row, the (start, end) sample pairs `Slicer.slice` returns) and `slicer.json` (the settings
rows, the reference commit). The signal is made of tones separated by silences of several lengths
(shorter and longer than min_interval, longer than 2 x max_sil_kept, leading and trailing), the
silences being a quiet V-shaped ramp so that the quietest frame is unique.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

RATE = 32000
# (kind, seconds): a tone or a silence, in order.
LAYOUT = [("silence", 0.8), ("tone", 2.5), ("silence", 0.2), ("tone", 2.0), ("silence", 0.45),
          ("tone", 1.0), ("silence", 0.6), ("tone", 3.0), ("silence", 1.5), ("tone", 4.5),
          ("silence", 0.35), ("tone", 0.6), ("silence", 1.2)]
PERIODS = (64, 80, 40, 128, 32)  # tones of 500, 400, 800, 250 and 1000 Hz
# slicer2 arguments (the web UI's defaults first), in ms and dB.
SETTINGS = [
    {"threshold": -34, "min_length": 4000, "min_interval": 300, "hop_size": 10, "max_sil_kept": 500},
    {"threshold": -40, "min_length": 1000, "min_interval": 300, "hop_size": 10, "max_sil_kept": 200},
    {"threshold": -30, "min_length": 2000, "min_interval": 500, "hop_size": 20, "max_sil_kept": 1000},
]


def signal() -> np.ndarray:
    parts = []
    for i, (kind, seconds) in enumerate(LAYOUT):
        n = int(RATE * seconds)
        if kind == "tone":
            # a whole number of samples per period keeps the file small (it compresses to one period)
            period = PERIODS[(i // 2) % len(PERIODS)]
            parts.append(0.3 * np.tile(np.sin(2 * np.pi * np.arange(period) / period), n // period + 1)[:n])
        else:  # a quiet 1 kHz hum whose level falls to its middle and rises again
            level = 0.004 * (0.2 + np.abs(np.linspace(-1, 1, n)))
            parts.append(level * np.tile(np.sin(2 * np.pi * np.arange(32) / 32), n // 32 + 1)[:n])
    return np.round(np.concatenate(parts) * 32767).astype(np.int16)


def main() -> None:
    ref = Path(os.environ.get("REF_DIR", "/work/ref"))
    sys.path.insert(0, str(ref / "tools"))
    from slicer2 import Slicer

    out = Path(os.environ.get("GOLDEN_TRAINING_DIR", Path(__file__).resolve().parents[2] / "tests/golden/training"))
    out = out / "prep"
    out.mkdir(parents=True, exist_ok=True)
    wav = signal()
    audio = wav.astype(np.float32) / 32768
    arrays = {"signal": wav}
    for i, row in enumerate(SETTINGS):
        chunks = Slicer(sr=RATE, **row).slice(audio)
        arrays[f"boundaries_{i}"] = np.asarray([[start, end] for _, start, end in chunks], dtype=np.int64)
        # the clip slice_audio.py writes for each boundary pair (before its normalisation)
        arrays[f"lengths_{i}"] = np.asarray([chunk.shape[0] for chunk, _, _ in chunks], dtype=np.int64)
    np.savez_compressed(out / "slicer.npz", **arrays)
    commit = subprocess.run(["git", "-C", str(ref), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    meta = {"rate": RATE, "layout": LAYOUT, "settings": SETTINGS, "reference": f"RVC-Boss/GPT-SoVITS@{commit}",
            "signal": "int16; the slicer reads signal / 32768 (float32)",
            "made_by": "tools/training_golden/make_prep_golden.py"}
    (out / "slicer.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print({key: value.tolist() for key, value in arrays.items() if key.startswith("boundaries")})


if __name__ == "__main__":
    main()
