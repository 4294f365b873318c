"""`Text2SemanticDecoder`: the reference's GPT (`AR/models/t2s_model.py`), inference only.

Phonemes (plus projected BERT features) and semantic tokens are embedded, given sine positions with a
learnt scale `alpha`, and run through one stack of post-norm layers; `ar_predict_layer` maps the last
position to logits over the semantic vocabulary + EOS. The decoding loop lives in `decode.py`; this
file only offers the two forward modes it needs, `prefill` and `step`.
"""
from __future__ import annotations

import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from .cache import KVCache
from .compiled import CompiledDecoding
from .config import BERT_DIM, GPTConfig
from ..layers import Embedding, Linear
from .prefill import CompiledPrefill
from .transformer import TransformerEncoder, per_head

_INITIAL_POSITIONS = 4000  # the reference's table size; extended on demand like its extend_pe
# Prefill lengths compiled at start-up: phonemes of prompt + target text (~20-150) plus the codes of a
# 3-10 s reference clip (150-500) mostly land between 192 and 384 positions.
WARM_PREFILL_LENGTHS = (256, 320)


def sine_table(length: int, dim: int) -> np.ndarray:
    """[length, dim] float32: sin on even, cos on odd channels, computed in float32 as the reference."""
    position = np.arange(length, dtype=np.float32)[:, None]
    div_term = np.exp(np.arange(0, dim, 2, dtype=np.float32) * np.float32(-(math.log(10000.0) / dim)))
    angles = position * div_term
    table = np.zeros((length, dim), dtype=np.float32)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles)
    return table


class TokenEmbedding(nn.Cell):
    def __init__(self, dim: int, vocab_size: int):
        super().__init__()
        self.word_embeddings = Embedding(vocab_size, dim)

    def construct(self, ids: ms.Tensor) -> ms.Tensor:
        return self.word_embeddings(ids)


class SinePositionalEmbedding(nn.Cell):
    """`x * x_scale + alpha * pe[start : start + T]` with `x_scale = 1` (the reference's scale=False)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.alpha = ms.Parameter(ms.Tensor(np.ones(1, dtype=np.float32)))
        self._table = sine_table(_INITIAL_POSITIONS, dim)

    def construct(self, x: ms.Tensor, start: int = 0) -> ms.Tensor:
        return x + self.alpha * ms.Tensor(self.rows(start, start + x.shape[0]))

    def rows(self, start: int, end: int) -> np.ndarray:
        """The sine codes of positions start..end-1, [end - start, dim] (the compiled step's input)."""
        if end > self._table.shape[0]:
            self._table = sine_table(max(end, 2 * self._table.shape[0]), self.dim)
        return self._table[start:end]


class Text2SemanticDecoder(nn.Cell):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        dim = cfg.embedding_dim
        self.bert_proj = Linear(BERT_DIM, dim)
        self.ar_text_embedding = TokenEmbedding(dim, cfg.phoneme_vocab_size)
        self.ar_text_position = SinePositionalEmbedding(dim)
        self.ar_audio_embedding = TokenEmbedding(dim, cfg.vocab_size)
        self.ar_audio_position = SinePositionalEmbedding(dim)
        self.h = TransformerEncoder(cfg)
        self.ar_predict_layer = Linear(cfg.hidden_dim, cfg.vocab_size, bias=False)
        self._compiled: CompiledDecoding | None = None  # built on the first compiled step
        self._compiled_prefill: CompiledPrefill | None = None

    def embed_text(self, phoneme_ids: ms.Tensor, bert: ms.Tensor) -> ms.Tensor:
        """phoneme ids [T] int, BERT features [1024, T] -> [T, dim]."""
        x = self.ar_text_embedding(phoneme_ids) + self.bert_proj(bert.transpose(1, 0))
        return self.ar_text_position(x)

    def embed_audio(self, tokens: ms.Tensor, start: int) -> ms.Tensor:
        """semantic tokens [L] at audio positions start..start+L-1 -> [L, dim]."""
        return self.ar_audio_position(self.ar_audio_embedding(tokens), start)

    def new_cache(self, capacity: int) -> KVCache:
        return KVCache(self.cfg.num_layers, capacity)

    def prefill(self, text: ms.Tensor, audio: ms.Tensor | None, cache: KVCache) -> ms.Tensor:
        """Step 0 over `[text; audio prompt]`; fills the cache, returns the logits [1, vocab] of the last position."""
        xy = text if audio is None else ops.cat((text, audio), axis=0)
        mask = prefill_mask(text.shape[0], 0 if audio is None else audio.shape[0])
        prefill = self._compiled_prefill_graphs()
        if prefill is None:
            bias = ms.Tensor(per_head(mask, self.cfg.num_heads))
            return self.ar_predict_layer(self.h.prefill(xy, bias, cache)[-1:])
        last, keys, values = prefill.run(xy, mask)
        cache.extend(xy.shape[0])
        for i, (k, v) in enumerate(zip(keys, values)):
            cache.start(i, k, v)
        return self.ar_predict_layer(last)

    def step(self, token: int, position: int, cache: KVCache) -> ms.Tensor:
        """The semantic `token` at audio `position`, against the cache -> logits [1, vocab].

        Runs as one compiled graph (`compiled.py`), embedding included, unless the runtime asks for
        op-by-op execution.
        """
        compiled = self._compiled_decoding()
        if compiled is not None:
            return compiled.step(token, self.ar_audio_position.rows(position, position + 1), cache)
        audio = self.embed_audio(ms.Tensor(np.array([token], np.int64)), position)
        return self.ar_predict_layer(self.h.step(audio, cache))

    def warm_up(self, capacities: tuple[int, ...], prefill_lengths: tuple[int, ...] = WARM_PREFILL_LENGTHS) -> None:
        """Compile the decoding step for these cache capacities, and the prefill for these prompt
        lengths, ahead of the first request."""
        compiled = self._compiled_decoding()
        if compiled is not None:
            compiled.warm_up(capacities)
        prefill = self._compiled_prefill_graphs()
        if prefill is not None:
            prefill.warm_up(prefill_lengths)

    def _compiled_decoding(self) -> CompiledDecoding | None:
        from GPT_SoVITS.runtime import compiled_decoding

        if not compiled_decoding():
            return None
        if self._compiled is None:
            self._compiled = CompiledDecoding(self)
        return self._compiled

    def _compiled_prefill_graphs(self) -> CompiledPrefill | None:
        from GPT_SoVITS.runtime import compiled_prefill

        if not compiled_prefill():
            return None
        if self._compiled_prefill is None:
            self._compiled_prefill = CompiledPrefill(self)
        return self._compiled_prefill


def prefill_mask(text_len: int, audio_len: int) -> np.ndarray:
    """Additive mask [S, S]: text attends to text only; audio attends to all text and causally to audio."""
    size = text_len + audio_len
    blocked = np.zeros((size, size), dtype=bool)
    blocked[:text_len, text_len:] = True
    blocked[text_len:, text_len:] = np.triu(np.ones((audio_len, audio_len), dtype=bool), k=1)
    return np.where(blocked, -np.inf, 0.0).astype(np.float32)
