"""The semantic back end (`models.backends.SemanticModel`): `GPT`, and `load_gpt(path)` that builds it from
a GPT checkpoint (`.ckpt` as `s1_train.py` writes it).

The checkpoint carries its own `config` (dimensions, `data.max_sec`); the fp16 tensors are upcast to
float32 by the weight reader and copied by a strict name match (the `model.` prefix of the lightning
module is stripped there).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Generator, Mapping

import numpy as np

from ..backends import SamplingOptions, WarmUpStage
from .config import MUTE_TOKEN, SEMANTIC_HZ, GPTConfig, max_sec_of
from .decode import SemanticResult, StepHook, decode_tokens, infer_panel
from .model import Text2SemanticDecoder

# Decoding-step graphs (`compiled.py`) by cache capacity: a prompt (~20-150 phonemes and the codes of a
# 3-10 s clip) plus a segment's answer fits the first two, built before serving; an uncut ~10 s sentence
# needs the next one, built in the background once serving. Longer ones are built when first needed.
WARM_CAPACITIES = (256, 512)
LATER_CAPACITIES = (768,)


@dataclass
class GPT:
    """A loaded text-to-semantic model with the settings the webui takes from its checkpoint."""

    config: GPTConfig
    max_sec: float
    model: Text2SemanticDecoder
    version: str | None = None  # phoneme table of the text embedding ("v1" | "v2"), when known

    @cached_property
    def mute_similarity(self) -> np.ndarray:
        """Cosine similarity [vocab] of every semantic code's embedding to the silence code's
        (`MUTE_TOKEN`), as the reference computes it in float32 (eps 1e-8): where chunked streaming
        may cut."""
        table = self.model.ar_audio_embedding.word_embeddings.weight.asnumpy().astype(np.float32)
        norms = np.linalg.norm(table, axis=1)
        return (table @ table[MUTE_TOKEN]) / np.maximum(norms * norms[MUTE_TOKEN], np.float32(1e-8))

    @property
    def early_stop_num(self) -> int:
        """The webui's `hz * max_sec`: the most tokens one segment may produce."""
        return int(SEMANTIC_HZ * self.max_sec)

    def generate(self, phoneme_ids: np.ndarray, prompt: np.ndarray | None, bert: np.ndarray,
                 options: SamplingOptions = SamplingOptions(), early_stop_num: int | float | None = None,
                 seed: int | np.random.Generator | None = None,
                 on_step: StepHook | None = None) -> SemanticResult:
        """`infer_panel` with the webui's early stop (`hz * max_sec`) unless one is given."""
        limit = self.early_stop_num if early_stop_num is None else early_stop_num
        return infer_panel(self.model, phoneme_ids, prompt, bert, options, limit, seed, on_step)

    def generate_tokens(self, phoneme_ids: np.ndarray, prompt: np.ndarray | None, bert: np.ndarray,
                        options: SamplingOptions = SamplingOptions(), early_stop_num: int | float | None = None,
                        seed: int | np.random.Generator | None = None,
                        ) -> Generator[tuple[int, bool], None, SemanticResult]:
        """`generate` as a stream: each token as it is kept, then the same result (see `decode_tokens`)."""
        limit = self.early_stop_num if early_stop_num is None else early_stop_num
        return decode_tokens(self.model, phoneme_ids, prompt, bert, options, limit, seed)

    def warm_up_stages(self, *, background: bool) -> list[WarmUpStage]:
        """The decoding-step graphs (and the prompt's prefill graphs) of the capacities most requests use."""
        capacities = LATER_CAPACITIES if background else WARM_CAPACITIES
        return [("gpt.compile", lambda: self.model.warm_up(capacities))]


def build_gpt(config: Mapping[str, Any], state: Mapping[str, np.ndarray], source: str = "GPT state",
              version: str | None = None) -> GPT:
    """A model from a checkpoint-style config dict and a state dict whose keys lack the `model.` prefix."""
    from GPT_SoVITS.weights import load_into

    cfg = GPTConfig.from_checkpoint_config(config)
    model = Text2SemanticDecoder(cfg)
    load_into(model, state, source=source)
    model.set_train(False)
    return GPT(config=cfg, max_sec=max_sec_of(config), model=model, version=version)


def load_gpt(path: str | Path) -> GPT:
    from GPT_SoVITS.weights import load_gpt_checkpoint

    checkpoint = load_gpt_checkpoint(path)
    return build_gpt(checkpoint.config, checkpoint.state, source=str(path), version=checkpoint.version)
