"""Torch-named building blocks shared by every model (GPT, BERT, SoVITS, HuBERT).

The cells keep PyTorch's parameter names and layouts (`weight` [out, in], `bias`), so a PyTorch state
dict loads by a strict name match. They call `ops` primitives rather than `mint`: on the CPU backend
`mint`'s LayerNorm, Embedding and GELU kernels are not registered, and `mint.nn.functional.linear` costs
many times more than a 2-D `MatMul(transpose_b=True)` for a single decoding row. Parameters start at zero;
real values come from a checkpoint. (Convolutions live in `sovits/layers.py`.)
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import mindspore as ms
from mindspore import nn, ops


SQRT_HALF = 0.7071067811865476


def zeros_parameter(*shape: int, name: str | None = None, requires_grad: bool = True) -> ms.Parameter:
    """A float32 parameter of zeros: a weight's placeholder until loading replaces it, or a key/value buffer.
    Its memory is numpy's zeros, shared, so its pages stay untouched, and take no memory, until something
    writes them: BERT's 1.3 GB of placeholders cost nothing before the weights replace them, and a
    key/value pool costs only the positions written (reading untouched pages reads the kernel's shared
    zero page). `Parameter(tensor)` copies its tensor into fresh, written memory (unless it guesses from
    reference counts that nothing else holds it, which it does not here), so the parameter starts on a
    scalar and `set_data` then takes the zeros as they are."""
    param = ms.Parameter(ms.Tensor(0.0, ms.float32), name=name, requires_grad=requires_grad)
    param.set_data(ms.Tensor.from_numpy(np.zeros(shape, dtype=np.float32)))
    return param


class Linear(nn.Cell):
    """torch.nn.Linear: `weight` [out, in], optional `bias` [out]; any number of leading axes.

    `store_transposed=True` keeps `weight` as [in, out] instead (load with `to_stored_layout`): on the CPU
    backend a product with tens of rows runs several times faster against a weight in that layout than
    against a transposed [out, in] one (the same for a single row or hundreds), which is BERT's case.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, store_transposed: bool = False):
        super().__init__()
        self.store_transposed = store_transposed
        shape = (in_features, out_features) if store_transposed else (out_features, in_features)
        self.weight = zeros_parameter(*shape)
        self.bias = zeros_parameter(out_features) if bias else None
        self._matmul = ops.MatMul(transpose_b=not store_transposed)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        flat = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
        y = self._matmul(flat, self.weight)
        if self.bias is not None:
            y = ops.bias_add(y, self.bias)  # a broadcast `+` costs several times more on the CPU backend
        return y if x.ndim == 2 else y.reshape(*x.shape[:-1], -1)


def to_stored_layout(cell: nn.Cell, state: Mapping[str, np.ndarray], *, consume: bool = False) -> dict[str, np.ndarray]:
    """A PyTorch-layout state dict with the weights of `store_transposed` Linears transposed to [in, out].
    With `consume`, `state` (a dict) is emptied as it goes: where it holds the only reference to a matrix,
    the matrix goes as soon as its transposed copy is made, so loading never holds two copies of the
    model (BERT's would be 2.5 GB at once)."""
    transposed = {f"{prefix}.weight" if prefix else "weight"
                  for prefix, sub in cell.cells_and_names() if isinstance(sub, Linear) and sub.store_transposed}
    take = state.pop if consume else state.__getitem__
    return {name: (transposed_copy(np.asarray(value)) if name in transposed else value)
            for name in list(state) for value in (take(name),)}


def transposed_copy(matrix: np.ndarray, rows_per_block: int = 64) -> np.ndarray:
    """`matrix.T` as a new C-contiguous array, a band of rows at a time: faster than numpy's one
    strided copy for BERT's 1024 x 4096 weights (BERT transposes 1.2 GB at load)."""
    out = np.empty(matrix.shape[::-1], matrix.dtype)
    for start in range(0, matrix.shape[0], rows_per_block):
        out[:, start:start + rows_per_block] = matrix[start:start + rows_per_block].T
    return out


def to_torch_layout(cell: nn.Cell, state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse of `to_stored_layout`: a state dict read off `cell`, in PyTorch's layouts."""
    return to_stored_layout(cell, state)  # transposing a matrix twice gives it back


class LayerNorm(nn.Cell):
    """torch.nn.LayerNorm over the last axis: `weight`, `bias`."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.weight = zeros_parameter(channels)
        self.bias = zeros_parameter(channels)
        self._norm = ops.LayerNorm(begin_norm_axis=-1, begin_params_axis=-1, epsilon=eps)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self._norm(x, self.weight, self.bias)[0]


class Embedding(nn.Cell):
    """torch.nn.Embedding: `weight` [rows, dim], looked up by integer ids of any shape."""

    def __init__(self, rows: int, dim: int):
        super().__init__()
        self.weight = zeros_parameter(rows, dim)

    def construct(self, ids: ms.Tensor) -> ms.Tensor:
        return ops.gather(self.weight, ids, 0)


def zero_pad(x: ms.Tensor, axis: int, before: int, after: int) -> ms.Tensor:
    """Zeros before and after one axis. A concatenation: MindSpore's CPU `ops.pad` is much slower."""
    axis = axis % x.ndim

    def zeros(size: int) -> ms.Tensor:
        return ops.zeros(x.shape[:axis] + (size,) + x.shape[axis + 1:], x.dtype)

    parts = ([zeros(before)] if before > 0 else []) + [x] + ([zeros(after)] if after > 0 else [])
    return x if len(parts) == 1 else ops.concat(parts, axis=axis)


def gelu(x: ms.Tensor) -> ms.Tensor:
    """The exact (erf) GELU of torch's default, written as torch computes it: x * 0.5 * (1 + erf(x / sqrt 2)).
    (The tanh approximation differs by ~1e-3; MindSpore's own exact `ops.gelu` is slower on the CPU.)"""
    return x * 0.5 * (1.0 + ops.erf(x * SQRT_HALF))


def tanh(x: ms.Tensor) -> ms.Tensor:
    """tanh as 2 sigmoid(2x) - 1. MindSpore's CPU Tanh kernel approximates: 1e-4 off near |x| = 5, and its
    gradient (1 - y^2 from that y) 2e-4 off, which training's gradients cannot afford (SoVITS's WaveNets
    and generator); this form is within 2e-6, its gradient too."""
    return 2 * ops.sigmoid(2 * x) - 1


def mish(x: ms.Tensor) -> ms.Tensor:
    """x tanh(softplus(x)) with the accurate `tanh` (ops.mish's gradient inherits the kernel's error)."""
    return x * tanh(ops.softplus(x))
