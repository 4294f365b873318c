"""Continuous batching of the decoding step: many utterances advance one token per step together.

A step is memory-bound: at batch 1 most of its time goes into reading the weights, which a batch of
sequences reads once for all. Sequences join after their own prefill and leave when they stop, between
any two steps, each keeping its own sampler and stop rules (`decode.SequenceState`).

Keys and values live in one **pool** of positions per layer, `[heads, pool, head_dim]` Parameters
owned by the step graphs. A sequence owns some positions of the pool, in any order: positions enter
attention only through the sequence's row of the additive mask (`0` on its own positions, `-inf`
elsewhere), and the GPT's positions are sine codes added to its inputs, not a property of the cache
slot. So one attention product per layer serves the whole batch (`[H, B, Dh] x [H, pool, Dh]`): the
pool is read once per step, whatever the batch, and each row's softmax sees exactly the terms it
would alone (masked terms are exactly 0).

Each step writes the new keys and values in place (`IndexAdd` into still-zero positions, as
`compiled.py` does for one sequence). Positions are handed out from a clean frontier; a sequence that
leaves dirties its positions until the next **repack**, which rewrites the pool with every sequence's
positions packed from 0 and the rest zero. A joining sequence's prefill keys and values are written at
the frontier in place; a repack happens when they do not fit, when the frontier reaches the end, and
when the pool could shrink. Pools come in
sizes `POOL_UNIT * 2^k`, the smallest that holds the packed sequences plus `HEADROOM` positions
each; every batch size shares its pool's Parameters, so changing the batch copies nothing.

Batch sizes are bucketed (`batch_sizes`): three sequences run in the graph for four, the fourth row
writing zeros (`keep` = 0) and reading nothing that matters. One graph per (batch size, pool size),
compiled on first use or by `warm_up`.
"""
from __future__ import annotations

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ..layers import zero_pad, zeros_parameter
from .decode import DecodeInputs, SequenceState
from .model import Text2SemanticDecoder

DEFAULT_BATCH_SIZES = (1, 2, 4, 8)
POOL_UNIT = 256  # the smallest pool; larger ones double
# Positions the pools may reach before sequences wait for room (each pool size holds its own buffers, ~96 KB
# a position at full size, so the pools up to 2048 take ~190 MB): past it only to let running ones finish.
DEFAULT_MAX_POSITIONS = 2048
CEILING_FACTOR = 4  # running sequences may grow the pool to this many times max_positions, no further


class PoolExhausted(RuntimeError):
    """A sequence was stopped because the running ones outgrew the pool's ceiling (it was the newest)."""


HEADROOM = 128  # free positions per sequence after a repack (steps before the next repack)
KEPT_POOL = 512  # an empty batch keeps its pool up to this size (a lone request's prompt and answer fit)


def pool_size_for(positions: int) -> int:
    size = POOL_UNIT
    while size < positions:
        size *= 2
    return size


class PoolBuffers:
    """The key and value pools of every layer, `[heads, size, head_dim]` Parameters, zero when built.

    Their memory is taken page by page as positions are written (`layers.zeros_parameter`): a pool that
    only a warm-up step has run costs nothing. A pool the batch is done with is made zero again: `clear`
    zeroes where it was written and keeps its pages (the small pools a lone request uses), `release` gives
    its memory back (the larger ones). `clean` says every position holds zero (fresh, cleared or released)."""

    def __init__(self, model: Text2SemanticDecoder, size: int):
        cfg = model.cfg
        shape = (cfg.num_heads, size, cfg.head_dim)

        def pools(kind: str) -> ms.ParameterTuple:
            return ms.ParameterTuple([zeros_parameter(*shape, name=f"batch_pool{size}.{kind}{i}", requires_grad=False)
                                      for i in range(cfg.num_layers)])

        self.size = size
        self.keys, self.values = pools("k"), pools("v")
        self.clean = True

    def release(self) -> None:
        """Zero the pool by giving its pages back to the system (`runtime.discard_memory`: they read as
        zero and take memory again when written). Where the parameters' memory is not this process's
        own (other targets) it stays as it is, not clean, and the next repack into it rewrites it whole."""
        from GPT_SoVITS.runtime import discard_memory

        params = (*self.keys, *self.values)
        self.clean = all(discard_memory(param.data_ptr(), param.nbytes) for param in params)

    def clear(self, length: int) -> bool:
        """Zero the first `length` positions of every buffer in place (`runtime.zero_memory`; the pages
        stay, so the next writes there cost no page faults): with the rest already zero, the pool is
        clean. False, touching nothing, where the parameters' memory is not this process's own."""
        from GPT_SoVITS.runtime import zero_memory

        for param in (*self.keys, *self.values):
            heads, size, head_dim = param.shape
            row = param.nbytes // heads  # one head's positions, contiguous
            for head in range(heads):
                if not zero_memory(param.data_ptr() + head * row, row * length // size):
                    return False
        self.clean = True
        return True


class BatchStepGraph(nn.Cell):
    """`step(tokens [B] int64, sine [B, dim], write_at [B] int32, keep [1, B, 1], bias [H, B, pool])
    -> logits [B, vocab]`, writing each row's key and value at its `write_at` (times `keep`)."""

    def __init__(self, model: Text2SemanticDecoder, pools: PoolBuffers, batch: int):
        super().__init__(auto_prefix=False)  # the shared layers keep the model's parameter names
        self.embed = model.ar_audio_embedding
        self.alpha = model.ar_audio_position.alpha
        self.layers = model.h.layers
        self.predict = model.ar_predict_layer
        self.keys, self.values = pools.keys, pools.values
        self.batch = batch
        self._write = ops.IndexAdd(axis=1)

    @ms.jit
    def construct(self, tokens: ms.Tensor, sine: ms.Tensor, write_at: ms.Tensor, keep: ms.Tensor,
                  bias: ms.Tensor) -> ms.Tensor:
        x = self.embed(tokens) + self.alpha * sine
        for i in range(len(self.layers)):
            layer = self.layers[i]
            q, k, v = layer.self_attn.qkv(x)
            # As in compiled.py: read the Parameters after the in-place writes, not the writes' outputs.
            keys = ops.depend(self.keys[i], self._write(self.keys[i], write_at, k * keep))
            values = ops.depend(self.values[i], self._write(self.values[i], write_at, v * keep))
            x = layer._finish(x, layer.self_attn.attend(q, keys, values, bias))
        return self.predict(x)


class BatchSequence:
    """One utterance in the batch: its choices (`state`) and the pool positions holding its keys."""

    def __init__(self, state: SequenceState, keys: list[ms.Tensor], values: list[ms.Tensor]):
        self.state = state
        self.positions: list[int] = []
        self.pending: tuple[list[ms.Tensor], list[ms.Tensor]] | None = (keys, values)  # its prefill's, until placed
        self.error: Exception | None = None  # why it was stopped early, if it was

    @property
    def length(self) -> int:
        return len(self.positions) if self.pending is None else self.pending[0][0].shape[1]


class SemanticBatch:
    """The sequences decoding together on one model, and the pool holding their keys and values."""

    def __init__(self, model: Text2SemanticDecoder, batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
                 max_positions: int = DEFAULT_MAX_POSITIONS):
        self.model = model
        self.batch_sizes = tuple(sorted(set(batch_sizes)))
        self.max_positions = max_positions
        self.sequences: list[BatchSequence] = []
        self._pools: dict[int, PoolBuffers] = {}
        self._graphs: dict[tuple[int, int], BatchStepGraph] = {}
        self._pool: PoolBuffers | None = None
        self._frontier = 0  # positions from here to the pool's end are clean (zero)
        self._needs_repack = False
        self._write_in_place = ops.IndexAdd(axis=1)

    @property
    def capacity(self) -> int:
        return self.batch_sizes[-1]

    def has_room(self, positions: int = 0) -> bool:
        """Whether a sequence whose prefill takes `positions` may join now: a free row, and its positions
        (with room to grow) within `max_positions` unless the batch is empty."""
        if len(self.sequences) >= self.capacity:
            return False
        return not self.sequences or self._packed_need() + positions + HEADROOM <= self.max_positions

    def add(self, inputs: DecodeInputs, state: SequenceState) -> tuple[BatchSequence, list[tuple[int, bool]]]:
        """Prefill one utterance (alone), choose its first token, and let it join the next step unless
        that token already ended it. Returns the sequence and the `(token, last)` pairs chosen."""
        if len(self.sequences) >= self.capacity:
            raise RuntimeError(f"the batch is full ({self.capacity} sequences)")
        cache = self.model.new_cache(inputs.prefill_length)
        text, audio = inputs.embedded(self.model)
        logits = self.model.prefill(text, audio, cache)
        sequence = BatchSequence(state, list(cache.keys), list(cache.values))  # [H, length, Dh] each
        pairs = state.choose(logits.asnumpy()[0])
        if not state.finished:
            self.sequences.append(sequence)
            self._place(sequence)
        return sequence, pairs

    def remove(self, sequence: BatchSequence) -> None:
        """Drop a sequence (finished, cancelled or abandoned); its positions are reclaimed at the next repack,
        or at once when the batch is left empty."""
        if sequence not in self.sequences:
            return
        self.sequences.remove(sequence)
        if not self.sequences and self._pool is not None:
            self._empty_pool()
        # Shrink only to a quarter or less: leaves and joins alternate, and a repack costs a few steps.
        elif self._pool is not None and pool_size_for(self._packed_need()) * 4 <= self._pool.size:
            self._needs_repack = True

    def step(self) -> list[tuple[BatchSequence, list[tuple[int, bool]]]]:
        """One forward pass for every sequence; finished ones leave the batch."""
        if not self.sequences:
            return []
        if self._needs_repack or self._frontier + len(self.sequences) > self._pool.size:
            self._stop_newest_past_ceiling()
            self._repack()
        count = len(self.sequences)
        size = self._pool.size
        batch = next(b for b in self.batch_sizes if b >= count)
        write_at = np.zeros(batch, np.int32)
        tokens = np.zeros(batch, np.int64)
        sine = np.zeros((batch, self.model.cfg.hidden_dim), np.float32)
        rows = np.zeros((batch, size), np.float32)  # padding rows see everything: finite, unused
        for b, sequence in enumerate(self.sequences):
            position = self._frontier + b
            sequence.positions.append(position)
            write_at[b] = position
            tokens[b] = sequence.state.last_token
            audio_position = sequence.state.position
            sine[b] = self.model.ar_audio_position.rows(audio_position, audio_position + 1)[0]
            rows[b] = self._row(sequence, size)
        self._frontier += count
        keep = np.zeros((1, batch, 1), np.float32)
        keep[0, :count] = 1.0
        bias = np.ascontiguousarray(np.broadcast_to(rows, (self.model.cfg.num_heads, batch, size)))
        logits = self._graph(batch, size)(ms.Tensor(tokens), ms.Tensor(sine), ms.Tensor(write_at),
                                          ms.Tensor(keep), ms.Tensor(bias)).asnumpy()
        chosen = []
        for b, sequence in enumerate(list(self.sequences)):
            chosen.append((sequence, sequence.state.choose(logits[b])))
            if sequence.state.finished:
                self.remove(sequence)
        return chosen

    def warm_up(self, batches: tuple[int, ...], pool_sizes: tuple[int, ...]) -> None:
        """Compile these (batch, pool) graphs now, with a throw-away step each on a zero pool."""
        cfg = self.model.cfg
        for size in sorted({pool_size_for(n) for n in pool_sizes}):
            for batch in sorted(set(batches)):
                keep = np.zeros((1, batch, 1), np.float32)  # writes nothing: the pool stays as it is
                self._graph(batch, size)(
                    ms.Tensor(np.zeros(batch, np.int64)), ms.Tensor(np.zeros((batch, cfg.hidden_dim), np.float32)),
                    ms.Tensor(np.zeros(batch, np.int32)), ms.Tensor(keep),
                    ms.Tensor(np.zeros((cfg.num_heads, batch, size), np.float32))).asnumpy()

    # -- the pool ------------------------------------------------------------------------------------
    def _stop_newest_past_ceiling(self) -> None:
        """Bound the pools' memory: while the running sequences would need a pool past
        `CEILING_FACTOR * max_positions`, stop the newest (it gets `PoolExhausted`); the oldest always runs."""
        ceiling = CEILING_FACTOR * self.max_positions
        while len(self.sequences) > 1 and pool_size_for(self._packed_need()) > ceiling:
            newest = self.sequences[-1]
            newest.error = PoolExhausted(f"decoding memory is full ({ceiling} positions): retry later")
            self.remove(newest)

    def _packed_need(self) -> int:
        return sum(s.length + HEADROOM for s in self.sequences)

    def _place(self, sequence: BatchSequence) -> None:
        """Write a new sequence's keys and values at the clean frontier, in place (`IndexAdd` into zeros,
        from outside the graphs: it reaches their buffers), or leave them for the next repack when they
        do not fit with a step's room to spare."""
        pool, length = self._pool, sequence.length
        if self._needs_repack or pool is None or self._frontier + length + len(self.sequences) > pool.size:
            self._needs_repack = True
            return
        keys, values = sequence.pending
        at = ms.Tensor(np.arange(self._frontier, self._frontier + length, dtype=np.int32))
        for params, sources in ((pool.keys, keys), (pool.values, values)):
            for param, source in zip(params, sources):
                self._write_in_place(param, at, source)
        sequence.pending = None
        sequence.positions = list(range(self._frontier, self._frontier + length))
        self._frontier += length

    def _empty_pool(self) -> None:
        """The batch is empty: make the pool clean now, so that the next sequence is written at position 0
        in place (left dirty, the next sequence's first step repacked it, every buffer rewritten: ~0.3 s at
        full size before a lone request's first audio). A pool of up to `KEPT_POOL` positions stays the
        batch's; a larger one is retired and the next sequence picks its size afresh. Where the pool cannot
        be cleared here (other targets), the next step repacks it as before."""
        pool = self._pool
        self._retire(pool, self._frontier)
        if not pool.clean:
            self._needs_repack = True
        elif pool.size <= KEPT_POOL:
            self._frontier, self._needs_repack = 0, False
        else:
            self._pool, self._frontier, self._needs_repack = None, 0, False

    def _retire(self, pool: PoolBuffers, written: int) -> None:
        """A pool the batch leaves, clean again: one of up to `KEPT_POOL` positions is zeroed where written and
        keeps its pages (written again after giving them back, it cost ~0.15 s of page faults at full size:
        the lone request's pool comes back often); a larger one gives its pages back."""
        if pool.size > KEPT_POOL or not pool.clear(written):
            pool.release()

    def _row(self, sequence: BatchSequence, size: int) -> np.ndarray:
        row = np.full(size, -np.inf, np.float32)
        row[sequence.positions] = 0.0
        return row

    def _repack(self) -> None:
        """Rewrite the pool (resized to fit) with every sequence's keys and values packed from 0 and zeros
        after them: a gather of the placed sequences' positions, written into a clean new pool at the
        first positions (`IndexAdd` into zeros), or zero-padded and assigned whole into a pool that is not
        clean (the same one, or one not released); then the pending ones written in place after them.
        Exact: values are only moved. A pool left behind is retired (`_retire`)."""
        old, pool = self._pool, self._pool_of(pool_size_for(self._packed_need()))
        placed = [s for s in self.sequences if s.pending is None]
        order = [position for s in placed for position in s.positions]
        if old is not None:  # (the first pool is fresh zeros)
            index = ms.Tensor(np.asarray(order, np.int32))
            pairs = zip((*old.keys, *old.values), (*pool.keys, *pool.values))
            if pool is not old and pool.clean:  # zeros already: only the packed positions are written
                at = ms.Tensor(np.arange(len(order), dtype=np.int32))
                for source, target in pairs if order else ():
                    self._write_in_place(target, at, ops.gather(source, index, 1))
            else:
                for source, target in pairs:
                    packed = ops.gather(source, index, 1) if order else source[:, :0]
                    ops.assign(target, zero_pad(packed, 1, 0, pool.size - len(order)))
        pool.clean = False
        if old is not None and old is not pool:
            self._retire(old, self._frontier)
        start = 0
        for sequence in placed:
            sequence.positions = list(range(start, start + len(sequence.positions)))
            start += len(sequence.positions)
        self._pool, self._frontier, self._needs_repack = pool, start, False
        for sequence in self.sequences:
            if sequence.pending is not None:
                self._place(sequence)

    def _pool_of(self, size: int) -> PoolBuffers:
        if size not in self._pools:
            self._pools[size] = PoolBuffers(self.model, size)
        return self._pools[size]

    def _graph(self, batch: int, size: int) -> BatchStepGraph:
        key = (batch, size)
        if key not in self._graphs:
            self._graphs[key] = BatchStepGraph(self.model, self._pool_of(size), batch)
        return self._graphs[key]
