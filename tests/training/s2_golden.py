"""The s2 (SoVITS training) golden sets: `tests/golden/training/s2/<version>/`, made by
`tools/training_golden/make_s2_golden.py` from the reference. The directory of the training goldens is
`GOLDEN_TRAINING_DIR` (default tests/golden/training); a missing file fails where runs must not skip."""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

import s2_weights
from support.required import missing
from GPT_SoVITS.models.sovits.discriminator import DiscriminatorDims
from GPT_SoVITS.training.s2 import S2Trainer
from GPT_SoVITS.training.s2.step import Draws, S2Batch

REPO_ROOT = Path(__file__).resolve().parents[2]
HOW = ("REF_DIR=/work/ref /work/torch-venv/bin/python tools/training_golden/make_s2_golden.py, "
       "or GOLDEN_TRAINING_DIR=<a golden set>")
BATCH_FIELDS = ("ssl", "ssl_lengths", "spec", "spec_lengths", "y", "y_lengths", "text", "text_lengths", "sv")


def training_dir() -> Path:
    return Path(os.environ.get("GOLDEN_TRAINING_DIR") or REPO_ROOT / "tests" / "golden" / "training")


def versions() -> list[str]:
    root = training_dir() / "s2"
    found = sorted(p.name for p in root.iterdir() if (p / "meta.json").exists()) if root.is_dir() else []
    return found or ["missing"]


def s2_file(version: str, name: str) -> Path:
    path = training_dir() / "s2" / version / name
    if not path.exists():
        missing(f"s2 training golden {path}", HOW)
    return path


@lru_cache(maxsize=None)
def meta(version: str) -> dict:
    return json.loads(s2_file(version, "meta.json").read_text())


@lru_cache(maxsize=None)
def arrays(version: str) -> dict[str, np.ndarray]:
    with np.load(s2_file(version, "golden.npz")) as data:
        return {key: data[key] for key in data.files}


def weights(version: str, net: str) -> dict[str, np.ndarray]:
    """The initial weights of "g" or "d", rebuilt from the golden's recipe; checked against its sums."""
    spec = meta(version)["weights"][net]
    return s2_weights.build(spec["recipe"], spec["seed"])


def batch(version: str) -> S2Batch:
    a = arrays(version)
    return S2Batch(**{name: a.get(f"batch.{name}") for name in BATCH_FIELDS})


def draws(version: str) -> Draws:
    a = arrays(version)
    return Draws(a["draws.noise"], a["draws.ids_slice"])


def trainer(version: str) -> S2Trainer:
    """The tiny trainer of the golden: its hps, narrow discriminator and initial weights."""
    m = meta(version)
    dims = DiscriminatorDims(*(tuple(m["discriminator"][k])
                               for k in ("scale_channels", "scale_groups", "period_channels")))
    return S2Trainer(version, m["hps"], weights(version, "g"), weights(version, "d"), discriminator_dims=dims)


def expected(version: str, key: str) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """(the stored values, their flat indices or None when stored whole, the stored stats)."""
    a = arrays(version)
    return a[key], a.get(key + ".index"), meta(version)["stored"][key]


def sampled(value: np.ndarray, index: np.ndarray | None) -> np.ndarray:
    flat = np.asarray(value).reshape(-1)
    return flat if index is None else flat[index]
