"""Step 0 (the prefill over `[phonemes; prompt tokens]`) as one compiled graph per length bucket.

Op by op the prefill launches ~600 kernels; compiled, each length would cost a compilation, so the
sequence is padded to a multiple of `PREFILL_BUCKET` and one graph serves every length in the bucket.
Padding stays exact: the additive mask blocks the padded keys for every real row (their softmax
weight is exactly 0), padded rows attend to position 0 only (a row must see some key, or its
softmax would be NaN and leak through 0 * NaN), and only the real rows' keys, values and last hidden
state are kept. Each graph returns the keys and values of every layer, which the caller copies into
its cache.
"""
from __future__ import annotations

import numpy as np
import mindspore as ms
from mindspore import nn

from ..layers import zero_pad
from .transformer import per_head

PREFILL_BUCKET = 64  # positions; one graph per multiple that a prompt reaches


def bucketed(length: int) -> int:
    return -(-length // PREFILL_BUCKET) * PREFILL_BUCKET


def padded_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """Embed the [S, S] additive mask in a [size, size] one that blocks padded keys for real rows."""
    length = mask.shape[0]
    padded = np.full((size, size), -np.inf, np.float32)
    padded[:length, :length] = mask
    padded[length:, 0] = 0.0
    return padded


class PrefillGraph(nn.Cell):
    """`prefill(x [size, dim], bias [H, size, size]) -> (hidden [size, dim], keys, values)` per layer [H, size, Dh]."""

    def __init__(self, model: nn.Cell, size: int):
        super().__init__(auto_prefix=False)  # the shared layers keep the model's parameter names
        self.layers = model.h.layers
        self.size = size

    @ms.jit
    def construct(self, x: ms.Tensor, bias: ms.Tensor):
        keys, values = (), ()
        for i in range(len(self.layers)):
            layer = self.layers[i]
            q, k, v = layer.self_attn.qkv(x)
            x = layer._finish(x, layer.self_attn.attend(q, k, v, bias))
            keys += (k,)
            values += (v,)
        return x, keys, values


class CompiledPrefill:
    """Per-model store of prefill graphs by padded length."""

    def __init__(self, model: nn.Cell):
        self._model = model
        self._graphs: dict[int, PrefillGraph] = {}

    def run(self, xy: ms.Tensor, mask: np.ndarray) -> tuple[ms.Tensor, list[ms.Tensor], list[ms.Tensor]]:
        """xy [S, dim], additive mask [S, S] -> the last real row's hidden state [1, dim], keys, values [H, S, Dh]."""
        length = xy.shape[0]
        size = bucketed(length)
        padded = zero_pad(xy, 0, 0, size - length)
        bias = per_head(padded_mask(mask, size), self._model.cfg.num_heads)
        hidden, keys, values = self._graph(size)(padded, ms.Tensor(bias))
        return hidden[length - 1: length], [k[:, :length] for k in keys], [v[:, :length] for v in values]

    def warm_up(self, lengths: tuple[int, ...]) -> None:
        """Compile the graphs of these prompt lengths now (a throw-away run each)."""
        dim = self._model.cfg.hidden_dim
        for size in sorted({bucketed(n) for n in lengths}):
            mask = np.zeros((self._model.cfg.num_heads, size, size), np.float32)
            self._graph(size)(ms.Tensor(np.zeros((size, dim), np.float32)), ms.Tensor(mask))[0].asnumpy()

    def _graph(self, size: int) -> PrefillGraph:
        if size not in self._graphs:
            self._graphs[size] = PrefillGraph(self._model, size)
        return self._graphs[size]
