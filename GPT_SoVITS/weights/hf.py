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
            load_file_header(path)  # safetensors' own checks of the header, and its messages
            try:
                return _read_safetensors(path)
            except (ValueError, KeyError):  # a dtype numpy lacks (bf16): safetensors' own reader
                return load_file(str(path))
        except Exception as exc:  # safetensors raises its own SafetensorError for bad headers
            raise WeightLoadError(f"{path}: not a readable safetensors file ({exc})") from exc
    state = read_torch_checkpoint(path)
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise WeightLoadError(f"{path}: expected a state dict of tensors")
    return dict(state)


_SAFETENSORS_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
                       "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def load_file_header(path: Path) -> None:
    """Let safetensors validate the file's header (it reads the header only, through a memory map)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="np"):
        pass


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Each tensor read from the file straight into its own array: `safetensors.numpy.load_file` reads
    the whole file into memory first, then copies every tensor out of it, so loading BERT held 2.6 GB
    at once for a 1.3 GB model. ValueError for a dtype numpy lacks (then `load_file`)."""
    with open(path, "rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(size))
        start = 8 + size
        state = {}
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            if entry["dtype"] not in _SAFETENSORS_DTYPES:
                raise ValueError(f"{name}: dtype {entry['dtype']}")
            dtype = np.dtype(_SAFETENSORS_DTYPES[entry["dtype"]]).newbyteorder("<")  # the format's order
            begin, end = entry["data_offsets"]
            array = np.empty(entry["shape"], dtype)
            if array.nbytes != end - begin:
                raise ValueError(f"{name}: {end - begin} bytes for shape {entry['shape']}")
            handle.seek(start + begin)
            if handle.readinto(memoryview(array.reshape(-1)).cast("B")) != array.nbytes:
                raise ValueError(f"{name}: the file ends early")
            state[name] = array
    return state
