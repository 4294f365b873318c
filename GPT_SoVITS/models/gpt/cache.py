"""Key/value cache of the GPT decoder: buffers of a fixed capacity, filled in place, read whole.

One sequence (batch 1, as the webui decodes). Per layer, keys and values are `[heads, capacity,
head_dim]`. Attention always reads the whole buffer and masks the unfilled tail with an additive
bias (`0` for filled positions, `-inf` beyond): a contiguous fixed-shape read is much cheaper per step
than slicing the filled prefix (a strided copy), gives the same softmax (masked terms are exactly 0),
and is the shape a compiled step needs.

The prefill `start`s each layer: its buffers are built from the prefill's keys and values with zeros
after them (on the CPU backend far cheaper than slice-assigning into pre-allocated zeros); each later
step `write`s one position in place. Buffers grow by doubling when full.
"""
from __future__ import annotations

import numpy as np
import mindspore as ms

from ..layers import zero_pad


def _empty_bias(length: int) -> np.ndarray:
    return np.full(length, -np.inf, dtype=np.float32)


class KVCache:
    def __init__(self, num_layers: int, capacity: int):
        self.keys: list[ms.Tensor | None] = [None] * num_layers  # built by `start`
        self.values: list[ms.Tensor | None] = [None] * num_layers
        self.capacity = capacity
        self.bias = ms.Tensor(_empty_bias(capacity))  # additive attention mask over positions
        self.length = 0  # positions filled in every layer

    def reserve(self, length: int) -> None:
        """Make room for `length` positions, doubling the buffers (one copy) when needed."""
        if length <= self.capacity:
            return
        old_capacity, new_capacity = self.capacity, max(length, 2 * self.capacity)
        for buffers in (self.keys, self.values):
            for i, old in enumerate(buffers):
                if old is not None:
                    buffers[i] = zero_pad(old, 1, 0, new_capacity - old_capacity)
        bias = _empty_bias(new_capacity)
        bias[:old_capacity] = self.bias.asnumpy()
        self.bias = ms.Tensor(bias)
        self.capacity = new_capacity

    def extend(self, count: int) -> None:
        """Open the next `count` positions for attention (before the layers write them)."""
        self.reserve(self.length + count)
        self.bias[self.length : self.length + count] = 0.0
        self.length += count

    def start(self, layer: int, keys: ms.Tensor, values: ms.Tensor) -> None:
        """The prefill's `keys`/`values` [H, n, Dh] as positions 0..n-1 of one layer: builds its buffers."""
        after = self.capacity - keys.shape[1]
        self.keys[layer] = zero_pad(keys, 1, 0, after)
        self.values[layer] = zero_pad(values, 1, 0, after)

    def write(self, layer: int, start: int, keys: ms.Tensor, values: ms.Tensor) -> None:
        """Store `keys`/`values` [H, n, Dh] at positions start..start+n-1 of a started layer."""
        end = start + keys.shape[1]
        self.keys[layer][:, start:end] = keys
        self.values[layer][:, start:end] = values
