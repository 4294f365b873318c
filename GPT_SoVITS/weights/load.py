"""Strict loading of a state dict into a MindSpore cell, by parameter name.

Our cells name their parameters exactly like the PyTorch state-dict keys, so loading is a name match.
The original port left mismatched parameters silently random; here every missing, unexpected or
wrongly shaped tensor is reported at once, by name, with the file it came from.
"""
from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Iterable, Mapping

import numpy as np

from .errors import WeightLoadError

if TYPE_CHECKING:  # MindSpore is imported on first use: the readers work without it
    import mindspore as ms


def _numpy_dtype(dtype) -> type:
    """MindSpore parameter dtype -> numpy dtype to convert to (fp16 files go into float32 modules)."""
    import mindspore as ms

    table = {
        ms.float16: np.float16, ms.float32: np.float32, ms.float64: np.float64, ms.int8: np.int8,
        ms.int16: np.int16, ms.int32: np.int32, ms.int64: np.int64, ms.uint8: np.uint8, ms.bool_: np.bool_,
    }
    return table.get(dtype, np.float32)


def _matcher(patterns: Iterable[str]):
    """Exact names or shell-style patterns (e.g. `*.num_batches_tracked`)."""
    patterns = tuple(patterns)
    return lambda key: any(key == p or fnmatch.fnmatchcase(key, p) for p in patterns)


def _listing(title: str, keys: list[str], limit: int = 20) -> str:
    shown = ", ".join(keys[:limit]) + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")
    return f"{title} ({len(keys)}): {shown}"


def _own_array(value: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """An array the parameter may keep: `value` itself when it is already a writeable, C-contiguous
    array of its own in `dtype` (e.g. a transposed copy), else a fresh copy (the file's arrays are
    read-only views of a memory map)."""
    if (isinstance(value, np.ndarray) and value.dtype == dtype and value.flags.c_contiguous
            and value.flags.writeable and value.flags.owndata):
        return value
    return np.array(value, dtype=dtype, order="C", copy=True)


def load_into(
    cell: "ms.nn.Cell",
    state: Mapping[str, np.ndarray],
    *,
    source: str,
    ignore_missing: Iterable[str] = (),
    ignore_unexpected: Iterable[str] = (),
) -> None:
    """Copy `state` into `cell`'s parameters by name, casting to each parameter's dtype.

    `source` names the file in error messages. `ignore_missing` / `ignore_unexpected` hold names or
    shell-style patterns of parameters the model may lack / keys the file may carry (e.g. training-only
    buffers). Nothing is assigned unless everything fits.
    """
    params = dict(cell.parameters_and_names())
    skip_missing, skip_unexpected = _matcher(ignore_missing), _matcher(ignore_unexpected)
    missing = [name for name in params if name not in state and not skip_missing(name)]
    unexpected = [key for key in state if key not in params and not skip_unexpected(key)]
    mismatched = [
        f"{name} (file {tuple(state[name].shape)}, model {tuple(param.shape)})"
        for name, param in params.items()
        if name in state and tuple(state[name].shape) != tuple(param.shape)
    ]
    problems = [
        _listing(title, keys)
        for title, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched))
        if keys
    ]
    if problems:
        raise WeightLoadError(f"{source}: weights do not fit {type(cell).__name__}: " + "; ".join(problems))
    import mindspore as ms

    for name, param in params.items():
        if name in state:
            param.set_data(ms.Tensor.from_numpy(_own_array(state[name], _numpy_dtype(param.dtype))))
