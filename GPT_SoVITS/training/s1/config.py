"""The reference's GPT training configuration (`GPT_SoVITS/configs/s1longer-v2.yaml`) and the web UI's edits.

The exported `.ckpt` carries this dict as its `config` (the inference side reads `model` and
`data.max_sec` from it), like the files the reference's web UI writes.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

S1LONGER_V2: dict[str, Any] = {
    "train": {"seed": 1234, "epochs": 20, "batch_size": 8, "save_every_n_epoch": 1, "precision": "16-mixed",
              "gradient_clip": 1.0},
    "optimizer": {"lr": 0.01, "lr_init": 0.00001, "lr_end": 0.0001, "warmup_steps": 2000, "decay_steps": 40000},
    "data": {"max_eval_sample": 8, "max_sec": 54, "num_workers": 4, "pad_val": 1024},
    "model": {"vocab_size": 1025, "phoneme_vocab_size": 732, "embedding_dim": 512, "hidden_dim": 512, "head": 16,
              "linear_units": 2048, "n_layer": 24, "dropout": 0, "EOS": 1024, "random_bert": 0},
    "inference": {"top_k": 15},
}
SEMANTIC_HZ_FOR_FILTER = 25  # the web UI sets os.environ["hz"] = "25hz" for s1 training (the dataset's filter)


def training_config(base: Mapping[str, Any] | None = None, *, model: Mapping[str, Any] | None = None,
                    **train: Any) -> dict[str, Any]:
    """s1longer-v2 (or `base`) with the model section of a pretrained checkpoint and the web UI's `train`
    edits (batch_size, epochs, if_dpo, exp_name, ... as keyword arguments); precision is 32 on CPU."""
    config = copy.deepcopy(dict(base or S1LONGER_V2))
    if model is not None:
        config["model"] = dict(model)
    config["train"] = {**config["train"], "precision": "32", **train}
    return config
