"""Chunked streaming's parts without models: where chunks are cut, how waveforms are joined."""
from __future__ import annotations

import numpy as np
import pytest

from GPT_SoVITS.models.sovits.backend import crossfade_frames
from GPT_SoVITS.pipeline.chunked import ChunkCutter, ChunkPlan, chunks_of, hann_window, sola_join


def stream(codes: list[int], last_flag: bool) -> list[tuple[int, bool]]:
    """The GPT's (code, last) stream: `last_flag` marks the final code (a count stop); without it the
    stream just ends (an EOS)."""
    return [(code, last_flag and i == len(codes) - 1) for i, code in enumerate(codes)]


def test_fixed_chunks_have_min_codes_and_the_rest_comes_last():
    cutter = ChunkCutter(ChunkPlan(at_pauses=False, min_codes=4, overlap_codes=1), None)
    chunks = list(chunks_of(stream(list(range(10)), False), cutter))
    assert chunks == [([0, 1, 2, 3], False), ([4, 5, 6, 7], False), ([8, 9], True)]


def test_a_count_stop_right_on_a_chunk_boundary_ends_with_that_chunk():
    cutter = ChunkCutter(ChunkPlan(at_pauses=False, min_codes=4, overlap_codes=1), None)
    assert list(chunks_of(stream(list(range(8)), True), cutter)) == [([0, 1, 2, 3], False),
                                                                    ([4, 5, 6, 7], True)]


def test_an_eos_right_after_a_cut_gives_an_empty_last_chunk():
    cutter = ChunkCutter(ChunkPlan(at_pauses=False, min_codes=4, overlap_codes=1), None)
    assert list(chunks_of(stream(list(range(8)), False), cutter))[-1] == ([], True)


def pause_cutter(silent: set[int], min_codes: int = 4) -> ChunkCutter:
    """Codes in `silent` sound like silence (similarity 0.9), every other code does not (-0.5)."""
    similarity = np.full(100, -0.5, np.float32)
    similarity[list(silent)] = 0.9
    return ChunkCutter(ChunkPlan(at_pauses=True, min_codes=min_codes, overlap_codes=1), similarity)


def test_a_silent_code_followed_by_a_sounding_one_is_no_cut_but_the_newest_code_counts_alone():
    cutter = pause_cutter({50})
    codes = [1, 2, 3, 4, 50, 5, 6, 7]  # 50 then 5: the pair scores below zero
    assert [cutter.add(c) for c in codes] == [None] * len(codes)
    assert cutter.add(50) == codes + [50]  # nothing follows the newest code yet: its own score decides


def test_pause_cut_ends_after_the_first_code_of_the_best_silent_pair():
    cutter = pause_cutter({50, 51})
    codes = [1, 2, 3, 4, 50, 51, 5, 6]
    results = [cutter.add(c) for c in codes]
    # min 4 + 2 codes wait from the 6th code on; the pair (50, 51) scores highest; the cut keeps 50
    assert results[:5] == [None] * 5
    assert results[5] == [1, 2, 3, 4, 50]
    assert results[6:] == [None, None] and cutter.waiting == [51, 5, 6]


def test_pause_cut_needs_min_codes_before_it():
    cutter = pause_cutter({50, 51}, min_codes=4)
    codes = [1, 50, 51, 2, 3, 4]  # the pair ends too early: cutting after code 2 leaves a 2-code chunk
    assert [cutter.add(c) for c in codes] == [None] * len(codes)
    assert cutter.waiting == codes


def test_pause_cut_prefers_the_more_silent_pair():
    similarity = np.full(100, -0.5, np.float32)
    similarity[[60, 61]] = 0.3
    similarity[[70, 71]] = 0.8
    cutter = ChunkCutter(ChunkPlan(at_pauses=True, min_codes=2, overlap_codes=1), similarity)
    got = [cutter.add(code) for code in [1, 2, 60, 61]]
    assert got == [None, None, None, [1, 2, 60]]  # the first check: (60, 61) is the only pair
    cutter = ChunkCutter(ChunkPlan(at_pauses=True, min_codes=3, overlap_codes=1), similarity)
    got = [cutter.add(code) for code in [1, 60, 61, 70, 71]]
    assert got[-1] == [1, 60, 61, 70]  # (70, 71) beats (61, 70) and (60, 61)


@pytest.mark.parametrize("min_codes,overlap", [(4, 0), (4, 4), (2, 3)])
def test_plan_rejects_an_overlap_that_is_not_shorter_than_a_chunk(min_codes, overlap):
    with pytest.raises(ValueError, match="overlap"):
        ChunkPlan(at_pauses=False, min_codes=min_codes, overlap_codes=overlap)


def test_crossfade_starts_on_the_previous_frames_and_ends_on_the_new():
    import mindspore as ms

    window = ms.Tensor(np.ones((1, 2, 6), np.float32))
    previous = ms.Tensor(np.full((1, 2, 3), 5.0, np.float32))
    out = crossfade_frames(window, previous).asnumpy()
    ramp = np.sin(np.arange(6) * np.pi / 6)
    np.testing.assert_allclose(out[0, 0, :3], ramp[:3] * 1 + ramp[3:] * 5, rtol=1e-6)
    np.testing.assert_allclose(out[0, :, 3:], 1.0)
    assert out[0, 0, 0] == pytest.approx(5.0)  # the first frame is all previous


def test_hann_window_is_torchs_periodic_one():
    window = hann_window(8)
    assert window[0] == 0 and window[4] == pytest.approx(1.0)
    np.testing.assert_allclose(window[1:4], window[7:4:-1], atol=1e-7)  # symmetric about the middle


@pytest.mark.parametrize("shift", [0, 37, 150])
def test_sola_finds_the_shift_and_joins_a_continuous_signal(shift):
    t = np.arange(20000)
    signal = np.sin(2 * np.pi * t / 400.0 + 0.3 * np.sin(2 * np.pi * t / 3000.0)).astype(np.float32)
    overlap = 600
    previous = signal[:8000]
    # The next chunk re-voices the last `overlap` samples, starting `shift` samples too early.
    current = signal[8000 - overlap - shift:]
    joined = sola_join(previous, current, overlap)
    assert joined.size == signal.size  # the early samples were skipped, none lost or doubled
    np.testing.assert_allclose(joined, signal, atol=1e-5)


def test_sola_without_a_match_still_crossfades_without_a_jump():
    rng = np.random.default_rng(0)
    previous, current = rng.standard_normal(4000).astype(np.float32), rng.standard_normal(4000).astype(np.float32)
    joined = sola_join(previous, current, 500, search=0)
    assert joined.size == previous.size - 500 + current.size
    np.testing.assert_array_equal(joined[:3500], previous[:3500])
    assert joined[3500] == pytest.approx(previous[3500])  # the fade starts fully on the previous chunk
    np.testing.assert_array_equal(joined[4000:], current[500:])
