"""The GPT file the reference's web UI writes after each epoch (`s1_train.py`'s `my_model_ckpt`).

`{"weight": OrderedDict("model.<name>": float16 tensor), "config": <the training config dict>,
"info": "GPT-e<epoch>"}`, saved by `torch.save` (here `write_torch_checkpoint`, no torch) as
`<exp_name>-e<epoch>.ckpt` in the GPT weights folder.
"""
from __future__ import annotations

import collections
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ...weights.checkpoints import GPT_PREFIX
from ...weights.torch_zip_writer import write_torch_checkpoint


def gpt_file_name(exp_name: str, epoch: int) -> str:
    return f"{exp_name}-e{epoch}.ckpt"


def export_gpt(folder: Path, exp_name: str, epoch: int, state: Mapping[str, np.ndarray],
               config: Mapping[str, Any]) -> Path:
    """Write `state` (Text2SemanticDecoder names) as the web UI's half-precision GPT file; its path."""
    weight = collections.OrderedDict(
        (GPT_PREFIX + name, np.asarray(value, np.float32).astype(np.float16)) for name, value in state.items())
    content = collections.OrderedDict(weight=weight, config=dict(config), info=f"GPT-e{epoch}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return write_torch_checkpoint(content, folder / gpt_file_name(exp_name, epoch))
