"""Dropout for SoVITS training, with masks a training step can replay.

The reference trains with dropout in the text encoder's transformers (p_dropout of the config: 0.1 for
v1/v2, 0 for the Pro versions) and in the style encoder (0.1, fixed). A training step runs the generator
twice (once for the discriminator's update, once under the gradient), so both passes must drop the same
units: `masks(seed)` makes every `dropout` call inside it draw from a generator seeded by `seed`, in call
order, and the step opens it with the same seed for both passes. Outside it (inference) `dropout` is the
identity, as is a rate of 0.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np
import mindspore as ms

STYLE_DROPOUT = 0.1  # MelStyleEncoder's default, which SynthesizerTrn does not override

_active: list[np.random.Generator] = []


@contextmanager
def masks(seed: int | None) -> Iterator[None]:
    """Dropout on, its masks drawn from `seed` (None: dropout stays off)."""
    if seed is None:
        yield
        return
    _active.append(np.random.default_rng(seed))
    try:
        yield
    finally:
        _active.pop()


def dropout(x: ms.Tensor, rate: float) -> ms.Tensor:
    """torch's nn.Dropout in training mode (keep with probability 1 - rate, scale by 1 / (1 - rate)) inside
    `masks`; the identity elsewhere."""
    if not _active or rate <= 0:
        return x
    keep = _active[-1].random(tuple(x.shape)) >= rate
    return x * ms.Tensor((keep / (1.0 - rate)).astype(np.float32))
