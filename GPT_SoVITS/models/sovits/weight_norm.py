"""Folding PyTorch weight-norm pairs into plain weights at load time.

`torch.nn.utils.weight_norm` stores `<name>.weight_g` and `<name>.weight_v`; the layer uses
weight = g * v / ||v||, the norm taken over every axis except `dim`. SoVITS uses dim 0 everywhere, which
for its ConvTranspose1d upsamplers (weight [in, out, k]) is the *input* channel; HuBERT's positional
convolution uses dim 2 (the kernel axis).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

G_SUFFIX, V_SUFFIX = ".weight_g", ".weight_v"


def fold(g: np.ndarray, v: np.ndarray, dim: int) -> np.ndarray:
    """g * v / ||v|| with the norm over all axes but `dim`, in float64, returned as float32."""
    v64 = np.asarray(v, dtype=np.float64)
    axes = tuple(a for a in range(v64.ndim) if a != dim % v64.ndim)
    norm = np.sqrt((v64 ** 2).sum(axis=axes, keepdims=True))
    return (np.asarray(g, dtype=np.float64) * v64 / norm).astype(np.float32)


def fold_weight_norm(state: Mapping[str, np.ndarray], dim: int = 0) -> dict[str, np.ndarray]:
    """A copy of `state` with every weight_g / weight_v pair replaced by its `weight`."""
    out: dict[str, np.ndarray] = {}
    for key, value in state.items():
        if key.endswith(V_SUFFIX):
            continue
        if key.endswith(G_SUFFIX):
            base = key[: -len(G_SUFFIX)]
            v_key = base + V_SUFFIX
            if v_key not in state:
                raise KeyError(f"{key} has no matching {v_key}")
            out[base + ".weight"] = fold(value, state[v_key], dim)
        else:
            out[key] = value
    orphans = [k for k in state if k.endswith(V_SUFFIX) and k[: -len(V_SUFFIX)] + G_SUFFIX not in state]
    if orphans:
        raise KeyError(f"weight_v without weight_g: {orphans[:3]}")
    return out
