"""A synthesis-free pass through every model and the text frontend, run once after loading.

The first request would otherwise pay for lazy start-up work: the frontend's dictionaries (jieba,
pypinyin, the English g2p and tagger), MindSpore's first-call kernel set-up in every model, and the
compilation of the GPT decoding step (~8 s per cache capacity at full size). `warm_up` does that work
at start-up on throw-away inputs (a synthetic clip, a tiny sentence) and reports what each part cost;
what only some requests need, or can do without for a while (English text, the compiled graphs of
BERT and of SoVITS's generator, the larger decoding graph), is left to `warm_up_rest`, which the
service runs in the background once it is ready. No part is fatal: a failure is logged and the request
that needs that part simply pays for it later.
"""
from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from .models import Models
from .reference import analyse_reference
from .text_features import text_features

log = logging.getLogger("GPT_SoVITS.pipeline.warmup")

WARM_TEXT = ("你好，世界。", "all_zh")
LATER_TEXTS = (("Hello world.", "en"),)
# Decoding-step graphs to compile (gpt/compiled.py): a prompt (~20-150 phones + ~75-250 codes of a 3-10 s
# clip) plus a segment's answer fits the first two, compiled before the service is ready; an uncut ~10 s
# sentence needs the next one, compiled in the background after. Longer ones compile on demand (~2 s
# each on 2 cores).
WARM_CAPACITIES = (256, 512)
LATER_CAPACITIES = (768,)
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


def _compile_bert(models: Models) -> None:
    from GPT_SoVITS.models.bert import HIDDEN_STATE_FROM_END
    from GPT_SoVITS.runtime import compiled_bert

    if compiled_bert():
        models.bert.model.compile(-HIDDEN_STATE_FROM_END)


def warm_up(models: Models) -> dict[str, float]:
    """Run each stage once on tiny inputs; returns seconds per stage."""
    timings: dict[str, float] = {}
    text, language = WARM_TEXT
    features = _timed(timings, f"text.{language}", lambda: text_features(models, text, language, models.symbol_version))
    _timed(timings, "gpt.compile", lambda: models.gpt.model.warm_up(WARM_CAPACITIES))
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "warm.wav"
        _synthetic_clip(clip, models.sample_rate)
        reference = _timed(timings, "reference", lambda: analyse_reference(models, str(clip), True))
    if reference is None or features is None:
        return timings
    phones = np.asarray(features.phone_ids, np.int64)
    result = _timed(timings, "gpt", lambda: models.gpt.generate(phones, reference.prompt_codes, features.bert,
                                                                early_stop_num=GPT_STEPS, seed=0))
    if result is not None:
        _timed(timings, "sovits", lambda: models.sovits.model.decode_with_timbre(
            result.webui_tokens[None, None], phones[None], reference.timbre, seed=0).asnumpy())
    return timings


def warm_up_rest(models: Models, run_stage: Callable[[Callable[[], None]], None] = lambda stage: stage(),
                 ) -> dict[str, float]:
    """What `warm_up` leaves for later, stage by stage: the other languages' frontends, the next GPT
    graph, BERT's graph (every length) and the generator's graphs (both run op by op until
    built). `run_stage` runs each stage (the synthesizer: under its lock, when no request is using it)."""
    stages = [(f"text.{language}", lambda t=text, lang=language: text_features(models, t, lang, models.symbol_version))
              for text, language in LATER_TEXTS]
    stages += [("gpt.compile", lambda: models.gpt.model.warm_up(LATER_CAPACITIES)),
               ("bert.compile", lambda: _compile_bert(models)),
               *models.sovits.model.warm_up_stages()]
    timings: dict[str, float] = {}
    for name, fn in stages:
        run_stage(lambda n=name, f=fn: _timed(timings, n, f))
    return timings
