"""Weight-normalised convolutions for training: `weight_g`, `weight_v` are the parameters, as in PyTorch.

Inference folds each pair into one `weight` at load time (`weight_norm.py`); training must keep the
pair, because the reference's optimiser updates g and v, and its checkpoints store them. The weight is
w = v * (g / ||v||), the norm over every axis but 0 (`torch.nn.utils.weight_norm`'s default `dim=0`; for
the transposed convolutions dim 0 is the input channel).

`weight_normed(root, patterns)` swaps the plain convolutions at the given cell names for these.
"""
from __future__ import annotations

import fnmatch
from typing import Iterable

import mindspore as ms
from mindspore import nn, ops

from ..layers import zeros_parameter
from .layers import Conv1d, ConvTranspose1d


def normalized_weight(g: ms.Tensor, v: ms.Tensor) -> ms.Tensor:
    """v * (g / ||v||) with the norm over all axes but 0, as torch's `_weight_norm`."""
    axes = tuple(range(1, v.ndim))
    norm = ops.sqrt(ops.sum(v * v, axes, keepdim=True))
    return v * (g / norm)


def _split_weight(cell: nn.Cell) -> None:
    """Replace the cell's `weight` parameter by `weight_g` [d0, 1, ...] and `weight_v` (its shape)."""
    shape = tuple(cell.weight.shape)
    del cell.weight
    cell.weight_g = zeros_parameter(shape[0], *([1] * (len(shape) - 1)))
    cell.weight_v = zeros_parameter(*shape)


class WNConv1d(Conv1d):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _split_weight(self)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.convolve(x, self.kernel())

    def kernel(self) -> ms.Tensor:
        return normalized_weight(self.weight_g, self.weight_v)


class WNConvTranspose1d(ConvTranspose1d):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _split_weight(self)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.convolve(x, normalized_weight(self.weight_g, self.weight_v))


_WEIGHT_NORMED = {Conv1d: WNConv1d, ConvTranspose1d: WNConvTranspose1d}


def _replace(root: nn.Cell, name: str, new: nn.Cell) -> None:
    parent_name, _, attr = name.rpartition(".")
    parent = root
    for part in parent_name.split(".") if parent_name else []:
        parent = parent[int(part)] if isinstance(parent, nn.CellList) else getattr(parent, part)
    if isinstance(parent, nn.CellList):
        parent[int(attr)] = new
    else:
        setattr(parent, attr, new)


def weight_normed(root: nn.Cell, patterns: Iterable[str]) -> list[str]:
    """Swap every plain Conv1d / ConvTranspose1d of `root` whose cell name matches a shell-style pattern
    for its weight-normalised twin; then name every parameter by its path. Returns the swapped names."""
    patterns = tuple(patterns)
    chosen = [(name, cell) for name, cell in root.cells_and_names()
              if type(cell) in _WEIGHT_NORMED and any(fnmatch.fnmatchcase(name, p) for p in patterns)]
    for name, cell in chosen:
        _replace(root, name, _WEIGHT_NORMED[type(cell)](**cell.args))
    rename_parameters(root)
    return [name for name, _ in chosen]


def rename_parameters(root: nn.Cell) -> None:
    """Parameter names = their paths in `root` (MindSpore prefixes names only when a cell is attached)."""
    for name, param in root.parameters_and_names():
        param.name = name
