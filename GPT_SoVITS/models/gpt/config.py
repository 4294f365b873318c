"""Dimensions of the text-to-semantic GPT, read from the `config` saved in every GPT checkpoint.

The reference takes these from `config["model"]`; it ignores `linear_units` (the feed-forward width
is always 4 x hidden) and `dropout` (inference). Constants the reference hard-codes live here too,
so there is one place for each.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

BERT_DIM = 1024  # width of the Chinese BERT features fed through `bert_proj`
FFN_MULTIPLIER = 4  # the reference builds dim_feedforward = 4 * hidden_dim, whatever linear_units says
LAYER_NORM_EPS = 1e-5
SEMANTIC_HZ = 50  # webui: early_stop_num = hz * max_sec
MIN_STEPS_BEFORE_EOS = 11  # the EOS column is dropped for steps 0..10 (at least ~0.4 s of speech)
MAX_STEPS = 1500
# The semantic code of silence (the reference's `mute_tokens`, the same for every version): chunked
# streaming cuts where the generated codes sound like it.
MUTE_TOKEN = 486


@dataclass(frozen=True)
class GPTConfig:
    embedding_dim: int
    hidden_dim: int
    num_heads: int
    num_layers: int
    vocab_size: int  # semantic tokens + EOS
    phoneme_vocab_size: int
    eos: int

    @property
    def head_dim(self) -> int:
        return self.hidden_dim // self.num_heads

    @property
    def ffn_dim(self) -> int:
        return FFN_MULTIPLIER * self.hidden_dim

    @classmethod
    def from_checkpoint_config(cls, config: Mapping[str, Any]) -> "GPTConfig":
        model = config["model"]
        cfg = cls(
            embedding_dim=int(model["embedding_dim"]),
            hidden_dim=int(model["hidden_dim"]),
            num_heads=int(model["head"]),
            num_layers=int(model["n_layer"]),
            vocab_size=int(model["vocab_size"]),
            phoneme_vocab_size=int(model["phoneme_vocab_size"]),
            eos=int(model["EOS"]),
        )
        if cfg.eos != cfg.vocab_size - 1:
            raise ValueError(f"GPT config: EOS {cfg.eos} must be the last token (vocab_size - 1 = {cfg.vocab_size - 1})")
        if cfg.embedding_dim != cfg.hidden_dim:
            raise ValueError("GPT config: embedding_dim and hidden_dim differ; the decoder adds them directly")
        if cfg.hidden_dim % cfg.num_heads:
            raise ValueError(f"GPT config: hidden_dim {cfg.hidden_dim} is not divisible by head {cfg.num_heads}")
        return cfg


def max_sec_of(config: Mapping[str, Any]) -> float:
    """`data.max_sec` of a checkpoint config (the webui's early stop: SEMANTIC_HZ * max_sec tokens)."""
    return float(config["data"]["max_sec"])
