"""Key/value cache of the GPT decoder: pre-allocated buffers filled in place, read whole.

One sequence (batch 1, as the webui decodes). Per layer, keys and values are `[heads, capacity,
head_dim]`. Attention always reads the whole buffer and masks the unfilled tail with an additive
bias (`0` for filled positions, `-inf` beyond): a contiguous fixed-shape read is ~5x cheaper per step
than slicing the filled prefix (a strided copy), gives the same softmax (masked terms are exactly 0),
and is the shape a compiled step needs. Buffers grow by doubling when full.
"""
from __future__ import annotations

import numpy as np
import mindspore as ms
from mindspore import ops

from ..layers import zero_pad


def _empty_bias(length: int) -> np.ndarray:
    return np.full(length, -np.inf, dtype=np.float32)


class KVCache:
    def __init__(self, num_layers: int, heads: int, head_dim: int, capacity: int):
        shape = (heads, capacity, head_dim)
        self.keys = [ops.zeros(shape, ms.float32) for _ in range(num_layers)]
        self.values = [ops.zeros(shape, ms.float32) for _ in range(num_layers)]
        self.bias = ms.Tensor(_empty_bias(capacity))  # additive attention mask over positions
        self.length = 0  # positions filled in every layer

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[1]

    def reserve(self, length: int) -> None:
        """Make room for `length` positions, doubling the buffers (one copy) when needed."""
        if length <= self.capacity:
            return
        old_capacity, new_capacity = self.capacity, max(length, 2 * self.capacity)
        for buffers in (self.keys, self.values):
            for i, old in enumerate(buffers):
                grown = ops.zeros((old.shape[0], new_capacity, old.shape[2]), ms.float32)
                grown[:, :old_capacity] = old
                buffers[i] = grown
        bias = _empty_bias(new_capacity)
        bias[:old_capacity] = self.bias.asnumpy()
        self.bias = ms.Tensor(bias)

    def extend(self, count: int) -> None:
        """Open the next `count` positions for attention (before the layers write them)."""
        self.reserve(self.length + count)
        self.bias[self.length : self.length + count] = 0.0
        self.length += count

    def write(self, layer: int, start: int, keys: ms.Tensor, values: ms.Tensor) -> None:
        """Store `keys`/`values` [H, n, Dh] at positions start..start+n-1 of one layer."""
        end = start + keys.shape[1]
        if start == 0 and end == self.length:  # the prefill: nothing else is filled, so build the buffers
            # whole (zeros after `end`), ~20x cheaper than a slice assignment into the old ones
            self.keys[layer] = zero_pad(keys, 1, 0, self.capacity - end)
            self.values[layer] = zero_pad(values, 1, 0, self.capacity - end)
            return
        self.keys[layer][:, start:end] = keys
        self.values[layer][:, start:end] = values
