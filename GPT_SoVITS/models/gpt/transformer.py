"""The decoder layers of the reference's GPT: post-norm self-attention + ReLU feed-forward.

Parameter names follow the reference's `TransformerEncoderLayer` (`self_attn.in_proj_weight`, fused
q/k/v like torch's MultiheadAttention; `linear1`, `linear2`, `norm1`, `norm2`). Each layer runs in two
modes that share the same weights: `prefill` over a whole sequence with an additive mask, and `step`
for one new position against the cache. One sequence at a time: activations are `[T, dim]`, which
spares the reshapes a batch axis would cost in every op-by-op step.
"""
from __future__ import annotations

import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from .cache import KVCache
from .config import LAYER_NORM_EPS, GPTConfig
from ..layers import LayerNorm, Linear, zeros_parameter


def per_head(mask: np.ndarray, heads: int) -> np.ndarray:
    """An additive mask [T, S] repeated to the scores' shape [H, T, S]: adding a broadcast mask costs
    many times more than a same-shape add on the CPU backend, once per layer."""
    return np.ascontiguousarray(np.broadcast_to(mask, (heads,) + mask.shape))


class SelfAttention(nn.Cell):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.in_proj_weight = zeros_parameter(3 * dim, dim)
        self.in_proj_bias = zeros_parameter(3 * dim)
        self.out_proj = Linear(dim, dim)
        self._project = ops.MatMul(transpose_b=True)
        self._scores = ops.BatchMatMul(transpose_b=True)
        self._mix = ops.BatchMatMul()
        self._split = ops.Split(axis=0, output_num=3)

    def qkv(self, x: ms.Tensor) -> tuple[ms.Tensor, ms.Tensor, ms.Tensor]:
        """[T, dim] -> q, k, v as [H, T, Dh]."""
        qkv = ops.bias_add(self._project(x, self.in_proj_weight), self.in_proj_bias)
        length = x.shape[0]
        if length == 1:  # a decoding step: one Split kernel, and reshapes that copy nothing
            q, k, v = self._split(qkv.reshape(3, self.heads, 1, self.head_dim))
            shape = (self.heads, 1, self.head_dim)
            return q.reshape(shape), k.reshape(shape), v.reshape(shape)
        # One Split kernel rather than three slices: a batched decoding step (`batch.py`) spent ~10% of its
        # time in the slices' 72 small kernels.
        q, k, v = self._split(qkv.reshape(length, 3, self.heads, self.head_dim).transpose(1, 2, 0, 3))
        shape = (self.heads, length, self.head_dim)
        return q.reshape(shape), k.reshape(shape), v.reshape(shape)

    def attend(self, q: ms.Tensor, k: ms.Tensor, v: ms.Tensor, bias: ms.Tensor) -> ms.Tensor:
        """q [H, T, Dh] against k, v [H, S, Dh] with an additive mask -> out_proj of the mix [T, dim]."""
        scores = self._scores(q * self.scale, k) + bias
        mixed = self._mix(ops.softmax(scores, -1), v)
        length = mixed.shape[1]
        if length > 1:
            mixed = mixed.transpose(1, 0, 2)
        return self.out_proj(mixed.reshape(length, -1))


class DecoderLayer(nn.Cell):
    def __init__(self, dim: int, heads: int, ffn_dim: int):
        super().__init__()
        self.self_attn = SelfAttention(dim, heads)
        self.linear1 = Linear(dim, ffn_dim)
        self.linear2 = Linear(ffn_dim, dim)
        self.norm1 = LayerNorm(dim, LAYER_NORM_EPS)
        self.norm2 = LayerNorm(dim, LAYER_NORM_EPS)

    def _finish(self, x: ms.Tensor, attended: ms.Tensor) -> ms.Tensor:
        # Post-norm (norm_first=False): residual first, then LayerNorm, for both sub-blocks.
        x = self.norm1(x + attended)
        return self.norm2(x + self.linear2(ops.relu(self.linear1(x))))

    def prefill(self, x: ms.Tensor, bias: ms.Tensor, cache: KVCache, layer: int) -> ms.Tensor:
        """x [S, dim] from position 0, with the additive mask `bias` [H, S, S] (see `per_head`)."""
        q, k, v = self.self_attn.qkv(x)
        cache.start(layer, k, v)
        return self._finish(x, self.self_attn.attend(q, k, v, bias))

    def step(self, x: ms.Tensor, cache: KVCache, layer: int, position: int) -> ms.Tensor:
        """x [1, dim] at `position`, attending to the whole cache through its mask."""
        q, k, v = self.self_attn.qkv(x)
        cache.write(layer, position, k, v)
        return self._finish(x, self.self_attn.attend(q, cache.keys[layer], cache.values[layer], cache.bias))


class TransformerEncoder(nn.Cell):
    """Holds the layers under `h.layers.N` as in the reference (no final norm: post-norm layers)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.layers = nn.CellList(
            [DecoderLayer(cfg.hidden_dim, cfg.num_heads, cfg.ffn_dim) for _ in range(cfg.num_layers)])

    def prefill(self, x: ms.Tensor, bias: ms.Tensor, cache: KVCache) -> ms.Tensor:
        cache.extend(x.shape[0])
        for i, layer in enumerate(self.layers):
            x = layer.prefill(x, bias, cache, i)
        return x

    def step(self, x: ms.Tensor, cache: KVCache) -> ms.Tensor:
        position = cache.length
        cache.extend(1)
        for i, layer in enumerate(self.layers):
            x = layer.step(x, cache, i, position)
        return x
