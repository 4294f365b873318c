"""Fresh GPT weights drawn as PyTorch initialises the reference's modules (for training from scratch and
the benchmark; fine-tuning starts from a pretrained file instead).

nn.Linear and out_proj: weight and bias U(+-1/sqrt(fan_in)) (out_proj's bias zeroed by
MultiheadAttention); in_proj: xavier-uniform weight, zero bias; nn.Embedding: N(0, 1); LayerNorm: 1, 0;
the positional `alpha`: 1.
"""
from __future__ import annotations

import math

import numpy as np

from ...models.gpt.model import Text2SemanticDecoder


def initial_state(model: Text2SemanticDecoder, rng: np.random.Generator) -> dict[str, np.ndarray]:
    state, params = {}, dict(model.parameters_and_names())
    for name, param in params.items():
        shape = tuple(param.shape)
        leaf = name.rsplit(".", 1)[-1]
        owner = name.rsplit(".", 1)[0]
        if leaf == "alpha":
            value = np.ones(shape)
        elif "norm" in owner.rsplit(".", 1)[-1]:
            value = np.ones(shape) if leaf == "weight" else np.zeros(shape)
        elif "embedding" in owner:
            value = rng.standard_normal(shape)
        elif leaf == "in_proj_weight":
            bound = math.sqrt(6.0 / (shape[0] + shape[1]))
            value = rng.uniform(-bound, bound, shape)
        elif leaf == "in_proj_bias" or (owner.endswith("out_proj") and leaf == "bias"):
            value = np.zeros(shape)
        else:
            fan_in = shape[1] if leaf == "weight" else params[owner + ".weight"].shape[1]
            bound = 1.0 / math.sqrt(fan_in)
            value = rng.uniform(-bound, bound, shape)
        state[name] = value.astype(np.float32)
    return state
