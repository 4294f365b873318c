"""A synthesis-free pass through every model and the text frontend, run once after loading.

The first request would otherwise pay for lazy start-up work: the frontend's dictionaries (jieba,
pypinyin, the English g2p and tagger), MindSpore's first-call kernel set-up in every model, and the
graphs each model compiles. `warm_up` does that work at start-up on throw-away inputs (a synthetic
clip, a tiny sentence), with each model's own start-up stages, and reports what each part cost; what
only some requests need, or can do without for a while (English text, each model's background stages:
see `models.backends`), is left to `warm_up_rest`, which the service runs in the background once it is
ready. No part is fatal: a failure is logged and the request that needs that part simply pays for it
later.
"""
from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from GPT_SoVITS.models.backends import WarmsUp

from .models import Models
from .reference import analyse_reference
from .text_features import text_features

log = logging.getLogger("GPT_SoVITS.pipeline.warmup")

WARM_TEXT = ("你好，世界。", "all_zh")
LATER_TEXTS = (("Hello world.", "en"),)
CLIP_SECONDS = 3.5  # inside the reference's 3-10 s window
GPT_STEPS = 2


def _synthetic_clip(path: Path, rate: int) -> None:
    import soundfile

    t = np.arange(int(CLIP_SECONDS * rate)) / rate
    soundfile.write(str(path), (0.2 * np.sin(2 * np.pi * 160 * t)).astype(np.float32), rate)


def _timed(timings: dict[str, float], name: str, fn) -> object:
    start = time.perf_counter()
    try:
        return fn()
    except Exception as exc:  # warm-up is an optimisation: never fail the load because of it
        log.warning("warm-up of %s failed (the first request will pay for it): %s", name, exc)
        return None
    finally:
        timings[name] = time.perf_counter() - start


SemanticDecode = Callable[[np.ndarray, np.ndarray, np.ndarray], object]  # (phones, prompt codes, features) -> result


def warm_up(models: Models, batch: WarmsUp | None = None, decode: SemanticDecode | None = None) -> dict[str, float]:
    """Run each stage once on tiny inputs; returns seconds per stage. With batching, the GPT's `batch`
    warms up instead of the GPT's lone decoding, and `decode` runs the tiny decoding through it."""
    timings: dict[str, float] = {}
    if decode is None:
        decode = lambda phones, codes, bert: models.gpt.generate(phones, codes, bert,  # noqa: E731
                                                                 early_stop_num=GPT_STEPS, seed=0)
    text, language = WARM_TEXT
    features = _timed(timings, f"text.{language}", lambda: text_features(models, text, language, models.symbol_version))
    for model in _warming(models, batch):
        for name, stage in model.warm_up_stages(background=False):
            _timed(timings, name, stage)
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "warm.wav"
        _synthetic_clip(clip, models.sample_rate)
        reference = _timed(timings, "reference", lambda: analyse_reference(models, str(clip), True))
    if reference is None or features is None:
        return timings
    phones = np.asarray(features.phone_ids, np.int64)
    result = _timed(timings, "gpt", lambda: decode(phones, reference.prompt_codes, features.bert))
    if result is not None:
        sovits = models.sovits
        _timed(timings, "sovits", lambda: sovits.decode(result.webui_tokens, phones,
                                                         sovits.voice_timbre([reference.timbre]), seed=0))
    return timings


def _warming(models: Models, batch: WarmsUp | None) -> list[WarmsUp]:
    """The models whose stages run: the GPT's batch in place of the GPT when there is one."""
    return [batch if batch is not None and model is models.gpt else model for model in models.all()]


def warm_up_rest(models: Models, run_stage: Callable[[Callable[[], None]], None] = lambda stage: stage(),
                 batch: WarmsUp | None = None) -> dict[str, float]:
    """What `warm_up` leaves for later, stage by stage: the other languages' frontends and each model's
    background stages (its graphs that run op by op until built). `run_stage` runs each stage (the
    synthesizer: under its lock, when no request is using it)."""
    stages = [(f"text.{language}", lambda t=text, lang=language: text_features(models, t, lang, models.symbol_version))
              for text, language in LATER_TEXTS]
    stages += [stage for model in _warming(models, batch) for stage in model.warm_up_stages(background=True)]
    timings: dict[str, float] = {}
    for name, fn in stages:
        run_stage(lambda n=name, f=fn: _timed(timings, n, f))
    return timings
