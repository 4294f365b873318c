"""The reference's s2 training configurations (configs/s2.json, s2v2Pro.json, s2v2ProPlus.json @ 48b1a01).

Released pretrained G files hold weights only, so the model's dimensions come from these, as the
reference's web UI builds its training config from them; callers override `train` keys (batch size,
epochs, learning rate...) by name. fp16_run is false here: training runs in float32.
"""
from __future__ import annotations

import copy
from typing import Any

from ... import versions

_TRAIN = {"log_interval": 100, "eval_interval": 500, "seed": 1234, "epochs": 100, "learning_rate": 0.0001,
          "betas": [0.8, 0.99], "eps": 1e-09, "batch_size": 32, "fp16_run": False, "lr_decay": 0.999875,
          "segment_size": 20480, "init_lr_ratio": 1, "warmup_epochs": 0, "c_mel": 45, "c_kl": 1.0,
          "text_low_lr_rate": 0.4, "grad_ckpt": False}
_DATA = {"max_wav_value": 32768.0, "sampling_rate": 32000, "filter_length": 2048, "hop_length": 640,
         "win_length": 2048, "n_mel_channels": 128, "mel_fmin": 0.0, "mel_fmax": None, "add_blank": True,
         "n_speakers": 300, "cleaned_text": True}
_MODEL = {"inter_channels": 192, "hidden_channels": 192, "filter_channels": 768, "n_heads": 2, "n_layers": 6,
          "kernel_size": 3, "p_dropout": 0.1, "resblock": "1", "resblock_kernel_sizes": [3, 7, 11],
          "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], "upsample_rates": [10, 8, 2, 2, 2],
          "upsample_initial_channel": 512, "upsample_kernel_sizes": [16, 16, 8, 2, 2], "n_layers_q": 3,
          "use_spectral_norm": False, "gin_channels": 512, "semantic_frame_rate": "25hz",
          "freeze_quantizer": True}
# What s2v2Pro.json / s2v2ProPlus.json change.
_MODEL_CHANGES = {
    "v2Pro": {"p_dropout": 0.0, "gin_channels": 1024},
    "v2ProPlus": {"p_dropout": 0.0, "gin_channels": 1024, "upsample_initial_channel": 768,
                  "upsample_kernel_sizes": [20, 16, 8, 2, 2]},
}
TRAINABLE_VERSIONS = ("v1", "v2", "v2Pro", "v2ProPlus")


def default_hps(version: str, **train: Any) -> dict[str, Any]:
    """{"train", "data", "model"} for `version`, with `train` keys overridden (names as in s2.json)."""
    if version not in TRAINABLE_VERSIONS:
        raise ValueError(f"SoVITS training supports {', '.join(TRAINABLE_VERSIONS)}, not {version}")
    unknown = sorted(set(train) - set(_TRAIN))
    if unknown:
        raise ValueError(f"unknown s2 train settings: {', '.join(unknown)}")
    model = {**copy.deepcopy(_MODEL), **copy.deepcopy(_MODEL_CHANGES.get(version, {})), "version": version}
    return {"train": {**copy.deepcopy(_TRAIN), **train}, "data": copy.deepcopy(_DATA), "model": model}


def n_symbols(version: str) -> int:
    """Rows of the text embedding: v1's symbol table, or v2's for every later version."""
    return versions.SYMBOL_SETS[versions.VERSIONS[version].symbols].symbols
