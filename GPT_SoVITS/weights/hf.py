"""Hugging Face model folders (chinese-hubert-base, chinese-roberta-wwm-ext-large) read locally.

`config.json` plus `model.safetensors` (read with `safetensors.numpy`) or `pytorch_model.bin` (our
torch-free reader). Nothing is downloaded; tokenizers are loaded by the model owners from the folder.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import WeightLoadError
from .torch_zip import read_torch_checkpoint

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass
class HFFolder:
    path: Path
    config: dict[str, Any]
    state: dict[str, np.ndarray]


def load_hf_folder(folder: str | Path) -> HFFolder:
    """Config and weights of a local Hugging Face folder; a clear error when either is missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightLoadError(f"{folder}: no such model folder")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise WeightLoadError(f"{folder}: not a Hugging Face model folder (no config.json)")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightLoadError(f"{config_path}: not valid JSON ({exc})") from exc
    present = [folder / name for name in WEIGHT_FILES if (folder / name).is_file()]
    if not present:
        raise WeightLoadError(f"{folder}: no weights ({' or '.join(WEIGHT_FILES)}) next to config.json")
    return HFFolder(folder, config, _read_weights(present[0]))


def _read_weights(path: Path) -> dict[str, np.ndarray]:
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises its own SafetensorError for bad headers
            raise WeightLoadError(f"{path}: not a readable safetensors file ({exc})") from exc
    state = read_torch_checkpoint(path)
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise WeightLoadError(f"{path}: expected a state dict of tensors")
    return dict(state)
