"""The s1 (GPT training) golden set: `tests/golden/training/s1/`, made by
`tools/training_golden/make_s1_golden.py` from the reference. The directory of the training goldens is
`GOLDEN_TRAINING_DIR` (default tests/golden/training); a missing file fails where runs must not skip."""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from support.required import missing
from GPT_SoVITS.models.gpt.training import TrainingBatch

REPO_ROOT = Path(__file__).resolve().parents[2]
HOW = ("REF_DIR=/work/ref /work/torch-venv/bin/python tools/training_golden/make_s1_golden.py, "
       "or GOLDEN_TRAINING_DIR=<a golden set>")


def training_dir() -> Path:
    return Path(os.environ.get("GOLDEN_TRAINING_DIR") or REPO_ROOT / "tests" / "golden" / "training")


def s1_file(name: str) -> Path:
    path = training_dir() / "s1" / name
    if not path.exists():
        missing(f"s1 training golden {path}", HOW)
    return path


@lru_cache(maxsize=None)
def meta() -> dict:
    return json.loads(s1_file("meta.json").read_text())


def arrays(name: str) -> dict[str, np.ndarray]:
    with np.load(s1_file(name)) as data:
        return {key: data[key] for key in data.files}


def clips() -> list[dict[str, np.ndarray]]:
    data = arrays("clips.npz")
    return [{"phones": data[f"{i}/phones"], "codes": data[f"{i}/codes"],
             "bert": data[f"{i}/bert"].astype(np.float32)} for i in range(meta()["n_clips"])]


def reference_batches() -> list[dict[str, np.ndarray]]:
    """The reference's collate outputs (without BERT), one dict per batch."""
    data = arrays("batches.npz")
    keys = ("phoneme_ids", "phoneme_ids_len", "semantic_ids", "semantic_ids_len")
    return [{key: data[f"{i}/{key}"] for key in keys} for i in range(len(meta()["batch_members"]))]


def training_batches() -> list[TrainingBatch]:
    """The golden batches as the trainer takes them: the reference's collated arrays + the clips' BERT."""
    pool, out = clips(), []
    for members, ref in zip(meta()["batch_members"], reference_batches()):
        bert = np.zeros((len(members), 1024, ref["phoneme_ids"].shape[1]), np.float32)
        for row, clip in enumerate(members):
            bert[row, :, :pool[clip]["bert"].shape[1]] = pool[clip]["bert"]
        out.append(TrainingBatch(ref["phoneme_ids"], ref["phoneme_ids_len"], ref["semantic_ids"],
                                 ref["semantic_ids_len"], bert))
    return out


def tiny_model():
    """The tiny GPT with the golden's initial weights."""
    from GPT_SoVITS.models.gpt.config import GPTConfig
    from GPT_SoVITS.models.gpt.model import Text2SemanticDecoder
    from GPT_SoVITS.weights import load_into

    model = Text2SemanticDecoder(GPTConfig.from_checkpoint_config(meta()["config"]))
    load_into(model, arrays("init.npz"), source=str(s1_file("init.npz")))
    return model


def synthetic_grads(step: int) -> dict[str, np.ndarray]:
    """The optimiser-only runs' gradients, drawn as the generator draws them (seeded numpy)."""
    opt, init = meta()["optimiser"], arrays("init.npz")
    rng = np.random.default_rng(opt["grad_seed"] + step)
    return {name: (rng.standard_normal(init[name].shape) * opt["grad_scales"][step]).astype(np.float32)
            for name in meta()["param_names"]}
