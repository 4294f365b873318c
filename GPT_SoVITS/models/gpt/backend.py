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
from typing import Any, Generator, Mapping, Sequence

import numpy as np

from ..backends import Chosen, SamplingOptions, WarmUpStage
from .batch import DEFAULT_BATCH_SIZES, BatchSequence, SemanticBatch
from .config import MUTE_TOKEN, SEMANTIC_HZ, GPTConfig, max_sec_of
from .decode import DecodeInputs, SemanticResult, SequenceState, StepHook, decode_tokens, infer_panel
from .model import WARM_PREFILL_LENGTHS, Text2SemanticDecoder

# Decoding-step graphs (`compiled.py`) by cache capacity: a prompt (~20-150 phonemes and the codes of a
# 3-10 s clip) plus a segment's answer fits the first two, built before serving; an uncut ~10 s sentence
# needs the next one, built in the background once serving. Longer ones are built when first needed.
WARM_CAPACITIES = (256, 512)
LATER_CAPACITIES = (768,)
# With batching (`batch.py`), graphs by (batch, pool positions): a lone request's prompt and answer fit
# the first pool, built before serving; those of a few concurrent segments are built once serving.
WARM_POOL = 512
BACKGROUND_BATCH_GRAPHS = ((2, 1024), (4, 2048), (1, 1024), (2, 2048), (4, 1024))


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
        limit = self.early_stop_for(phoneme_ids, early_stop_num)
        return infer_panel(self.model, phoneme_ids, prompt, bert, options, limit, seed, on_step)

    def generate_tokens(self, phoneme_ids: np.ndarray, prompt: np.ndarray | None, bert: np.ndarray,
                        options: SamplingOptions = SamplingOptions(), early_stop_num: int | float | None = None,
                        seed: int | np.random.Generator | None = None,
                        ) -> Generator[tuple[int, bool], None, SemanticResult]:
        """`generate` as a stream: each token as it is kept, then the same result (see `decode_tokens`)."""
        limit = self.early_stop_for(phoneme_ids, early_stop_num)
        return decode_tokens(self.model, phoneme_ids, prompt, bert, options, limit, seed)

    def new_batch(self, batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES) -> "GPTBatch":
        """An empty continuous batch on this model (`batch.py`)."""
        return GPTBatch(self, SemanticBatch(self.model, tuple(batch_sizes)))

    def early_stop_for(self, phoneme_ids: np.ndarray, early_stop_num: int | float | None) -> int | float:
        """The given count limit, or the webui's (`hz * max_sec`)."""
        return self.early_stop_num if early_stop_num is None else early_stop_num

    def warm_up_stages(self, *, background: bool) -> list[WarmUpStage]:
        """The decoding-step graphs (and the prompt's prefill graphs) of the capacities most requests use."""
        capacities = LATER_CAPACITIES if background else WARM_CAPACITIES
        return [("gpt.compile", lambda: self.model.warm_up(capacities))]


class GPTBatch:
    """`SemanticBatchDecoder` on a `GPT`: utterances are `BatchSequence`s of its `SemanticBatch`."""

    def __init__(self, gpt: GPT, batch: SemanticBatch):
        self.gpt, self.batch = gpt, batch

    def has_room(self, positions: int = 0) -> bool:
        return self.batch.has_room(positions)

    def add(self, phoneme_ids: np.ndarray, prompt: np.ndarray | None, bert: np.ndarray,
            options: SamplingOptions = SamplingOptions(), early_stop_num: int | float | None = None,
            seed: int | np.random.Generator | None = None) -> tuple[BatchSequence, Chosen]:
        inputs = DecodeInputs.checked(self.gpt.config, phoneme_ids, prompt, bert)
        limit = self.gpt.early_stop_for(phoneme_ids, early_stop_num)
        return self.batch.add(inputs, SequenceState(self.gpt.config.eos, inputs, options, limit, seed))

    def step(self) -> list[tuple[BatchSequence, Chosen]]:
        return self.batch.step()

    def finished(self, handle: BatchSequence) -> bool:
        return handle.state.finished or handle.error is not None

    def result(self, handle: BatchSequence) -> SemanticResult:
        if handle.error is not None:
            raise handle.error
        return handle.state.result()

    def remove(self, handle: BatchSequence) -> None:
        self.batch.remove(handle)

    def __len__(self) -> int:
        return len(self.batch.sequences)

    def warm_up_stages(self, *, background: bool) -> list[WarmUpStage]:
        """Instead of the lone step's graphs: the batch graphs a lone request and a few concurrent ones use
        (the prefill's graphs as `GPT`'s)."""
        sizes = set(self.batch.batch_sizes)
        if background:  # one stage per graph: a request that comes during a stage waits for one compilation
            return [(f"gpt.compile.batch_{b}x{p}", lambda b=b, p=p: self.batch.warm_up((b,), (p,)))
                    for b, p in BACKGROUND_BATCH_GRAPHS if b in sizes]
        return [("gpt.compile", lambda: (self.gpt.model.warm_up((), WARM_PREFILL_LENGTHS),
                                         self.batch.warm_up((1,), (WARM_POOL,))))]


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
