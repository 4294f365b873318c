"""`torch.randperm` on the CPU generator, without torch: the reference's shuffles, in its order.

PyTorch's CPU generator is a 32-bit Mersenne Twister seeded by `manual_seed(s)` through the standard
`init_genrand(s)`; numpy's legacy `RandomState(s)` is the same engine with the same seeding, and its
full-range 32-bit `randint` returns the raw tempered outputs. ATen's `randperm_cpu` (for n below
2**32 / 20) starts from 0..n-1 and swaps position i with i + (draw % (n - i)) for i = 0..n-2, one draw
each. The s2 sampler's order (`module/data_utils.py` `DistributedBucketSampler`) is therefore reproducible
here exactly; `tests/training/test_torch_random.py` checks it against the reference's own sampler.
"""
from __future__ import annotations

import numpy as np

MAX_N = 2**32 // 20  # beyond this ATen draws 64-bit numbers instead


class TorchGenerator:
    """`g = torch.Generator(); g.manual_seed(seed)`, for `randperm` calls in sequence."""

    def __init__(self, seed: int):
        self._engine = np.random.RandomState(seed)

    def randperm(self, n: int) -> list[int]:
        if n >= MAX_N:
            raise ValueError(f"randperm of {n} items: only n < {MAX_N} is reproduced")
        order = list(range(n))
        if n < 2:
            return order
        draws = self._engine.randint(0, 2**32, size=n - 1, dtype=np.uint64)
        for i, draw in enumerate(draws.tolist()):
            j = i + draw % (n - i)
            order[i], order[j] = order[j], order[i]
        return order
