"""Key/value cache of the GPT decoder: one pre-allocated buffer per layer, filled in place.

Layout per layer: keys and values `[batch, heads, capacity, head_dim]`. The prefill writes positions
`0..n-1`, each decoding step writes one more position, and attention reads the filled prefix. The
buffers grow by doubling when full, so a step never reallocates the whole cache; a compiled step can
instead allocate the full capacity up front and mask the unfilled tail.
"""
from __future__ import annotations

import mindspore as ms
from mindspore import ops


class KVCache:
    def __init__(self, num_layers: int, batch: int, heads: int, head_dim: int, capacity: int):
        shape = (batch, heads, capacity, head_dim)
        self.keys = [ops.zeros(shape, ms.float32) for _ in range(num_layers)]
        self.values = [ops.zeros(shape, ms.float32) for _ in range(num_layers)]
        self.length = 0  # positions filled in every layer

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2]

    def reserve(self, length: int) -> None:
        """Make room for `length` positions, doubling the buffers (one copy) when needed."""
        if length <= self.capacity:
            return
        new_capacity = max(length, 2 * self.capacity)
        for buffers in (self.keys, self.values):
            for i, old in enumerate(buffers):
                grown = ops.zeros(old.shape[:2] + (new_capacity, old.shape[3]), ms.float32)
                grown[:, :, : old.shape[2]] = old
                buffers[i] = grown

    def write(self, layer: int, start: int, keys: ms.Tensor, values: ms.Tensor) -> tuple[ms.Tensor, ms.Tensor]:
        """Store `keys`/`values` [B, H, n, Dh] at positions start..start+n-1; return all filled positions."""
        end = start + keys.shape[2]
        self.keys[layer][:, :, start:end] = keys
        self.values[layer][:, :, start:end] = values
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]
