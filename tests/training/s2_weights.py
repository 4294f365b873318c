"""Deterministic weights for the tiny s2 training goldens, from a recipe (no weight file to ship).

Each tensor is drawn from numpy's PCG64 seeded by (seed, crc32(name)), so the golden generator (torch
venv) and the tests (the project's python) build the same values without storing them:
  kind "uniform":  offset + scale * (2u - 1)
  kind "g_of_v":   ||v|| over every axis but 0 (v = the matching weight_v) * (low + (high - low) u)
  kind "const":    offset
Float64 draws, stored as float32. Pure numpy: imported by both sides.
"""
from __future__ import annotations

import zlib
from typing import Mapping

import numpy as np

GENERATOR_OUTPUT_GAIN = 30.0


def _uniform(seed: int, name: str, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    return rng.random(shape)


def build(recipe: Mapping[str, Mapping], seed: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, r in recipe.items():
        shape = tuple(r["shape"])
        if r["kind"] == "uniform":
            out[name] = (r["offset"] + r["scale"] * (2.0 * _uniform(seed, name, shape) - 1.0)).astype(np.float32)
        elif r["kind"] == "const":
            out[name] = np.full(shape, r["offset"], np.float32)
    for name, r in recipe.items():
        if r["kind"] == "g_of_v":
            v = out[name[: -len("_g")] + "_v"].astype(np.float64)
            norm = np.sqrt((v ** 2).reshape(v.shape[0], -1).sum(1)).reshape(shape := tuple(r["shape"]))
            u = _uniform(seed, name, shape)
            out[name] = (norm * (r["low"] + (r["high"] - r["low"]) * u)).astype(np.float32)
    return out


def recipe_for(name: str, shape: tuple[int, ...]) -> dict:
    """The rule by parameter name: realistic magnitudes (fan-in scaled weights, gains near 1)."""
    entry: dict = {"shape": list(shape)}
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "weight_g":
        return {**entry, "kind": "g_of_v", "low": 0.7, "high": 1.3}
    if leaf in ("gamma",):
        return {**entry, "kind": "uniform", "offset": 1.0, "scale": 0.1}
    if leaf in ("bias", "beta"):
        return {**entry, "kind": "uniform", "offset": 0.0, "scale": 0.1}
    if leaf == "inited":
        return {**entry, "kind": "const", "offset": 1.0}
    if name.startswith("prelu"):
        return {**entry, "kind": "uniform", "offset": 0.25, "scale": 0.05}
    if name.startswith("quantizer"):
        return {**entry, "kind": "uniform", "offset": 0.0, "scale": 1.0}
    if leaf.startswith("emb_rel"):
        return {**entry, "kind": "uniform", "offset": 0.0, "scale": shape[-1] ** -0.5}
    if "text_embedding" in name:
        return {**entry, "kind": "uniform", "offset": 0.0, "scale": 1.0}
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    # The generator's last layer louder: audio at a trained model's level (~0.5, not ~0.02), so the mel
    # loss sees magnitudes far from its log clamp and the STFT's epsilon, where float32 noise is magnified.
    gain = GENERATOR_OUTPUT_GAIN if name == "dec.conv_post.weight" else 1.0
    return {**entry, "kind": "uniform", "offset": 0.0, "scale": gain * float(fan_in) ** -0.5}
