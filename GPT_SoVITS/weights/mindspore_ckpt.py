"""MindSpore `.ckpt` files in the original port's layout (its `convert.py`), read and written.

Layout: one parameter per tensor of the PyTorch `weight` dict,
dtype as in the source (fp16 for exported fine-tunes), plus string entries `config` (a JSON string)
and `info`. Names follow the port's modules, which differ from PyTorch's in two places:
- GPT: the Lightning `model.` prefix is dropped and `linearN` is called `denseN`;
- SoVITS: the channel LayerNorm's `gamma` / `beta` are `layer_norm.weight` / `layer_norm.bias`.
We map them back on reading, so everything above this module sees PyTorch names only.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .errors import WeightLoadError

# (PyTorch name part, port name part), applied as plain substring replacements like the port did.
_GPT_RENAMES = ((".linear1.", ".dense1."), (".linear2.", ".dense2."))
_SOVITS_RENAMES = ((".gamma", ".layer_norm.weight"), (".beta", ".layer_norm.bias"))
# Written by our converter so that a round trip keeps what the file header said (v2Pro vs v2ProPlus).
MODEL_VERSION_KEY = "model_version"


@dataclass
class MindSporeCheckpoint:
    state: dict[str, np.ndarray]  # PyTorch names
    config: dict[str, Any] | None
    info: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def _rename(name: str, renames, reverse: bool) -> str:
    for torch_part, port_part in renames:
        old, new = (port_part, torch_part) if reverse else (torch_part, port_part)
        if old in name:
            return name.replace(old, new)
    return name


def _renames(kind: str):
    return {"gpt": _GPT_RENAMES, "sovits": _SOVITS_RENAMES}.get(kind, ())


def to_port_names(kind: str, state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """PyTorch names (GPT: without `model.`) -> the port's parameter names."""
    return {_rename(name, _renames(kind), reverse=False): array for name, array in state.items()}


def to_torch_names(kind: str, state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The port's names -> PyTorch names (GPT: without the `model.` prefix)."""
    return {_rename(name, _renames(kind), reverse=True): array for name, array in state.items()}


def guess_kind(state: Mapping[str, Any]) -> str:
    """"gpt", "sovits" or "other", from parameter names (either naming)."""
    names = [name.removeprefix("model.") for name in state]
    if any(name.startswith(("ar_predict_layer.", "ar_text_embedding.")) for name in names):
        return "gpt"
    if any(name.startswith(("enc_p.", "dec.", "flow.")) for name in names):
        return "sovits"
    return "other"


def read_mindspore_checkpoint(path: str | Path) -> MindSporeCheckpoint:
    """Load a MindSpore `.ckpt`; parameters as numpy arrays under PyTorch names, `config` parsed."""
    import mindspore as ms

    path = Path(path)
    try:
        loaded = ms.load_checkpoint(str(path))
    except Exception as exc:  # MindSpore raises ValueError/RuntimeError with its own wording
        raise WeightLoadError(
            f"{path}: neither a PyTorch zip checkpoint nor a readable MindSpore checkpoint ({exc})"
        ) from exc
    strings = {key: value for key, value in loaded.items() if isinstance(value, str)}
    state = {key: value.asnumpy() for key, value in loaded.items() if not isinstance(value, str)}
    extra = {key: state.pop(key) for key in ("lora_rank",) if key in state}
    config = None
    if "config" in strings:
        try:
            config = json.loads(strings.pop("config"))
        except json.JSONDecodeError as exc:
            raise WeightLoadError(f"{path}: the MindSpore checkpoint's `config` is not valid JSON ({exc})") from exc
    info = strings.pop("info", None)
    extra.update(strings)
    return MindSporeCheckpoint(to_torch_names(guess_kind(state), state), config, info, extra)


def write_mindspore_checkpoint(
    path: str | Path,
    kind: str,
    state: Mapping[str, np.ndarray],
    config: Mapping[str, Any] | None,
    info: Any = None,
    extra: Mapping[str, str] | None = None,
) -> Path:
    """Save like the port's `convert.py`: port names, source dtypes, config as a JSON string."""
    import mindspore as ms

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    params = [
        {"name": name, "data": ms.Tensor(np.array(array, order="C"))}  # 0-d stays 0-d
        for name, array in to_port_names(kind, state).items()
    ]
    append: dict[str, Any] = {}
    if config is not None:
        append["config"] = json.dumps(config, ensure_ascii=False)
    if info is not None:
        append["info"] = str(info)
    append.update(extra or {})
    ms.save_checkpoint(params, str(path), append_dict=append)
    return path
