"""Continuous batching (`models/gpt/batch.py`) against the golden cases: each case decoded inside a
batch, next to other sequences of other lengths that join and leave at other steps, gives the
reference's tokens exactly and its logits within the golden tolerance (greedy sampling, as the golden
cases were made)."""
from __future__ import annotations

import numpy as np
import pytest
from golden_data import model_file, model_meta, model_subdirs

from GPT_SoVITS.models.gpt import load_gpt
from GPT_SoVITS.models.gpt import batch as batch_module
from GPT_SoVITS.models.gpt.batch import SemanticBatch
from GPT_SoVITS.models.gpt.decode import DecodeInputs, SequenceState

from test_gpt_parity import ATOL_LOGITS, golden_cases, sampling_options

VERSIONS = model_subdirs("gpt")


def load(version: str):
    folder = f"gpt/{version}"
    meta = model_meta(folder)
    gpt = load_gpt(model_file(f"{folder}/{meta['checkpoint']}"))
    return gpt, meta, np.load(model_file(f"{folder}/inputs.npz")), np.load(model_file(f"{folder}/golden.npz"))


class Tracked:
    """A sequence's inputs, state, tokens handed out and raw logits seen."""

    def __init__(self, gpt, phonemes, prompt, bert, options, early_stop_num, seed=0):
        self.logits: list[np.ndarray] = []
        self.inputs = DecodeInputs.checked(gpt.config, phonemes, prompt, bert)
        self.state = SequenceState(gpt.config.eos, self.inputs, options, early_stop_num, seed,
                                   on_step=lambda _, raw: self.logits.append(raw))
        self.pairs: list[tuple[int, bool]] = []


def run_batch(batch: SemanticBatch, arrivals: dict[int, list[Tracked]]) -> int:
    """Step the batch until every sequence is done; `arrivals[step]` join before that step. Returns the
    largest number of sequences seen in one step."""
    widest, step = 0, 0
    while batch.sequences or any(s >= step for s in arrivals):
        for tracked in arrivals.get(step, []):
            _, pairs = batch.add(tracked.inputs, tracked.state)
            tracked.pairs += pairs
        widest = max(widest, len(batch.sequences))
        owners = {id(s.state): t for t in sum(arrivals.values(), []) for s in batch.sequences if s.state is t.state}
        for sequence, pairs in batch.step():
            owners[id(sequence.state)].pairs += pairs
        step += 1
    return widest


def others(gpt, inputs, options) -> list[Tracked]:
    """Sequences of other lengths: shorter phonemes and prompts, a different prompt, no prompt."""
    phonemes, bert, prompt = inputs["all_phoneme_ids"], inputs["bert"], inputs["prompt_semantic"]
    return [Tracked(gpt, phonemes[:9], prompt[:7], bert[:, :9], options, 60),
            Tracked(gpt, phonemes[3:], prompt[::-1].copy(), bert[:, 3:], options, 35),
            Tracked(gpt, phonemes[::2].copy(), None, bert[:, ::2].copy(), options, 90)]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_golden_case_decodes_the_same_inside_a_batch(version, monkeypatch):
    monkeypatch.setattr(batch_module, "HEADROOM", 8)  # repacks and pool growth mid-decoding
    monkeypatch.setattr(batch_module, "POOL_UNIT", 32)
    gpt, meta, inputs, golden = load(version)
    options = sampling_options(meta)
    cases = {}
    for case in golden_cases(golden):
        args = meta["cases"][case]
        prompt = None if args["ref_free"] else inputs["prompt_semantic"]
        cases[case] = Tracked(gpt, inputs["all_phoneme_ids"], prompt, inputs["bert"], options,
                              args["early_stop_num"])
    extra = others(gpt, inputs, options)
    names = sorted(cases)
    # Cases join at different steps, between sequences of other lengths already decoding.
    arrivals = {0: [extra[0], cases[names[0]]], 3: [extra[1]], 5: [cases[n] for n in names[1:]], 9: [extra[2]]}
    batch = SemanticBatch(gpt.model, batch_sizes=(1, 2, 4, 8))
    repacks, in_place = [], []
    real_repack, real_write = batch._repack, batch._write_in_place
    batch._repack = lambda: repacks.append(batch._pool and batch._pool.size) or real_repack()
    batch._write_in_place = lambda *a: in_place.append(1) or real_write(*a)
    assert run_batch(batch, arrivals) >= 3
    assert len(repacks) >= 3 and in_place, (repacks, len(in_place))  # both ways of joining, pools resized
    for case, tracked in cases.items():
        result = tracked.state.result()
        np.testing.assert_array_equal(result.tokens, golden[f"{case}.y_full"], err_msg=case)
        np.testing.assert_array_equal(result.webui_tokens, golden[f"{case}.webui_pred_semantic"], err_msg=case)
        np.testing.assert_allclose(tracked.logits[0], golden[f"{case}.first_step_logits"], rtol=0, atol=ATOL_LOGITS)
        if f"{case}.step_logits" in golden.files:
            np.testing.assert_allclose(np.stack(tracked.logits), golden[f"{case}.step_logits"], rtol=0,
                                       atol=ATOL_LOGITS)
        assert [t for t, _ in tracked.pairs] == result.generated.tolist()


@pytest.mark.parametrize("version", VERSIONS)
def test_a_sequence_decodes_the_same_alone_and_beside_others(version):
    """The other lengths too: each equals its own lone decoding (tokens exactly, logits within 1e-5)."""
    gpt, meta, inputs, _ = load(version)
    options = sampling_options(meta)
    batched = others(gpt, inputs, options)
    run_batch(SemanticBatch(gpt.model), {0: batched[:2], 4: batched[2:]})
    for alone, together in zip(others(gpt, inputs, options), batched):
        result = gpt.generate(alone.inputs.phoneme_ids, None if alone.inputs.ref_free else alone.inputs.prompt_tokens,
                              alone.inputs.bert, options, early_stop_num=alone.state.early_stop_num, seed=0,
                              on_step=lambda _, raw: alone.logits.append(raw))
        np.testing.assert_array_equal(together.state.result().tokens, result.tokens)
        np.testing.assert_allclose(np.stack(together.logits), np.stack(alone.logits), rtol=0, atol=1e-5)


@pytest.mark.parametrize("version", VERSIONS)
def test_running_sequences_past_the_ceiling_stop_the_newest_and_the_oldest_runs_on(version, monkeypatch):
    """Memory stays bounded: when the running sequences outgrow CEILING_FACTOR x max_positions, the newest
    one is stopped with PoolExhausted and the pool never passes the ceiling; the oldest still decodes
    exactly as alone."""
    monkeypatch.setattr(batch_module, "POOL_UNIT", 16)
    monkeypatch.setattr(batch_module, "HEADROOM", 8)
    gpt, meta, inputs, _ = load(version)
    options = sampling_options(meta)
    short = (inputs["all_phoneme_ids"][:9], inputs["prompt_semantic"][:7], inputs["bert"][:, :9])
    oldest, newest = Tracked(gpt, *short, options, 10_000), Tracked(gpt, *short, options, 10_000)
    batch = SemanticBatch(gpt.model, batch_sizes=(1, 2), max_positions=16)
    ceiling = batch_module.CEILING_FACTOR * batch.max_positions
    pools: list[tuple[int, bool]] = []  # (pool size, whether the newest still ran) after each step
    batch.add(oldest.inputs, oldest.state)
    newest_handle, _ = batch.add(newest.inputs, newest.state)  # admitted by the caller, past has_room
    while batch.sequences:
        batch.step()
        pools.append((batch._pool.size, newest_handle in batch.sequences))
    assert isinstance(newest_handle.error, batch_module.PoolExhausted), pools
    assert len(newest.logits) > 10  # it decoded a while before it was stopped
    assert all(size <= ceiling for size, both in pools if both)  # only the oldest, alone, may pass it
    alone = gpt.generate(*short, options, early_stop_num=10_000, seed=0)
    np.testing.assert_array_equal(oldest.state.result().tokens, alone.tokens)


def test_pools_the_batch_has_left_are_released_to_zeros_and_a_clean_one_is_written_only_where_packed(monkeypatch):
    """Growing and shrinking across pools: every pool but the current one is zero (its memory given back)
    and marked clean, and a repack into a clean pool writes only the packed positions, never the whole
    pool; decoding stays exact (the case above, where pools are resized several times)."""
    monkeypatch.setattr(batch_module, "HEADROOM", 8)
    monkeypatch.setattr(batch_module, "POOL_UNIT", 32)
    gpt, meta, inputs, _ = load(VERSIONS[0])
    options = sampling_options(meta)
    batch = SemanticBatch(gpt.model, batch_sizes=(1, 2, 4, 8))
    assigned = []
    real_assign = batch_module.ops.assign
    monkeypatch.setattr(batch_module.ops, "assign", lambda target, value: assigned.append(target) or
                        real_assign(target, value))
    moves = []  # (pool before, pool after, whole-pool assignments) of each repack that changed the pool
    real_repack = batch._repack

    def repack():
        before, start = batch._pool, len(assigned)
        real_repack()
        if before is not None and batch._pool is not before:
            moves.append((before.size, batch._pool.size, assigned[start:]))

    batch._repack = repack
    extra = others(gpt, inputs, options)
    run_batch(batch, {0: [extra[0]], 2: [extra[1]], 4: [extra[2]]})
    left = [pool for pool in batch._pools.values() if pool is not batch._pool]
    assert len(batch._pools) >= 3 and left and len(moves) >= 2, moves
    for pool in left:
        assert pool.clean
        for param in (*pool.keys, *pool.values):
            assert not param.asnumpy().any(), param.name
    assert all(not whole for _, _, whole in moves), [(a, b, len(whole)) for a, b, whole in moves]


@pytest.mark.parametrize("kept", [True, False])
def test_an_emptied_batch_leaves_a_clean_pool_for_the_next_sequence(monkeypatch, kept):
    """Once the last sequence leaves, the pool is zero again at once: kept as the batch's (up to
    KEPT_POOL positions) the next sequence is written at position 0 without a repack, or given back and
    picked afresh by a repack that rewrites no pool whole; either way the next sequence decodes exactly
    as in a fresh batch."""
    if not kept:
        monkeypatch.setattr(batch_module, "KEPT_POOL", 0)
    gpt, meta, inputs, _ = load(VERSIONS[0])
    options = sampling_options(meta)

    def decoded(batch, tracked):
        run_batch(batch, {0: [tracked]})
        return tracked.pairs, tracked.logits

    expected = decoded(SemanticBatch(gpt.model), others(gpt, inputs, options)[1])
    batch = SemanticBatch(gpt.model)
    decoded(batch, others(gpt, inputs, options)[0])
    assert not batch.sequences
    pool = batch._pool if kept else next(iter(batch._pools.values()))
    assert (batch._pool is pool) == kept and pool.clean
    assert not any(param.asnumpy().any() for param in (*pool.keys, *pool.values))
    repacks, assigned = [], []
    real_repack, real_assign = batch._repack, batch_module.ops.assign
    monkeypatch.setattr(batch, "_repack", lambda: repacks.append(1) or real_repack())
    monkeypatch.setattr(batch_module.ops, "assign", lambda target, value: assigned.append(1) or real_assign(target, value))
    pairs, logits = decoded(batch, others(gpt, inputs, options)[1])
    assert (len(repacks) == 0) == kept and not assigned
    assert pairs == expected[0]
    for step, (got, want) in enumerate(zip(logits, expected[1], strict=True)):
        np.testing.assert_array_equal(got, want, err_msg=f"step {step}")
