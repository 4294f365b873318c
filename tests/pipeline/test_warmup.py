"""The start-up warm-up runs every stage and leaves no trace: the golden synthesis is unchanged after it.

A fresh synthesizer is warmed before its first synthesis (as the engine does), so a warm-up that left
decoding state behind (cache buffers, a compiled graph's keys) would show up in the waveform.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest

from test_e2e_golden import _options, golden, meta, synthesizer  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.slow


def test_warm_up_covers_every_stage_without_failures(synthesizer, caplog):  # noqa: F811
    from GPT_SoVITS.pipeline.warmup import WARM_TEXTS

    with caplog.at_level(logging.WARNING, logger="GPT_SoVITS.pipeline.warmup"):
        timings = synthesizer.warm_up()
    assert not [r for r in caplog.records if r.name == "GPT_SoVITS.pipeline.warmup"]
    expected = {f"text.{language}" for _, language in WARM_TEXTS} | {"bert.compile", "gpt.compile", "reference", "gpt", "sovits"}
    assert set(timings) == expected
    assert all(seconds >= 0 for seconds in timings.values())


def test_synthesis_after_warm_up_matches_reference(synthesizer, meta, golden):  # noqa: F811
    synthesizer.warm_up()
    _, audio = synthesizer.synthesize(_options(meta))
    assert audio.shape == golden["output_int16"].shape
    assert np.abs(audio.astype(np.int64) - golden["output_int16"]).max() <= 1
