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
    from GPT_SoVITS.models.gpt.backend import BACKGROUND_BATCH_GRAPHS, LATER_CAPACITIES, WARM_CAPACITIES
    from GPT_SoVITS.models.gpt.compiled import bucketed
    from GPT_SoVITS.pipeline.warmup import LATER_TEXTS, WARM_TEXT
    from GPT_SoVITS.runtime import compiled_decoding

    with caplog.at_level(logging.WARNING, logger="GPT_SoVITS.pipeline.warmup"):
        timings = synthesizer.warm_up()
        later = synthesizer.warm_up_rest()
    assert not [r for r in caplog.records if r.name == "GPT_SoVITS.pipeline.warmup"]
    assert set(timings) == {f"text.{WARM_TEXT[1]}", "gpt.compile", "reference", "gpt", "sovits"}
    sovits = synthesizer.models.sovits.model
    generator = sovits._compiled_dec
    decoder = synthesizer.models.gpt if synthesizer.batching is None else synthesizer._scheduler.batch
    gpt_stages = {name for name, _ in decoder.warm_up_stages(background=True)}
    assert gpt_stages == ({"gpt.compile"} if synthesizer.batching is None else
                          {f"gpt.compile.batch_{b}x{p}" for b, p in BACKGROUND_BATCH_GRAPHS})
    assert set(later) == ({f"text.{language}" for _, language in LATER_TEXTS} | {"bert.compile"} | gpt_stages
                          | {name for name, _ in sovits.warm_up_stages()})
    assert generator.ready
    # Every decoding-step graph the warm-up names is built (what a first request would otherwise wait for).
    if synthesizer.batching is not None:  # the batch's graphs instead of the lone step's
        from GPT_SoVITS.models.gpt.backend import WARM_POOL

        built = set(synthesizer._scheduler.batch.batch._graphs)
        assert {(1, WARM_POOL), *BACKGROUND_BATCH_GRAPHS} <= built
        lone = synthesizer.models.gpt.model._compiled
        assert lone is None or not lone._graphs  # no lone-step graph (nor its cache) is built
        return
    compiled = synthesizer.models.gpt.model._compiled
    assert (compiled is not None) == compiled_decoding()
    if compiled is not None:
        assert {bucketed(c) for c in WARM_CAPACITIES + LATER_CAPACITIES} <= set(compiled._graphs)


def test_synthesis_after_warm_up_matches_reference(synthesizer, meta, golden):  # noqa: F811
    synthesizer.warm_up()
    synthesizer.warm_up_rest()
    _, audio = synthesizer.synthesize(_options(meta))
    assert audio.shape == golden["output_int16"].shape
    assert np.abs(audio.astype(np.int64) - golden["output_int16"]).max() <= 1
