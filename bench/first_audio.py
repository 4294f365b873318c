"""Where the first audio of a chunked stream waits: the first chunk's path, stage by stage.

The pipeline's own pieces, called in the order `Synthesizer` calls them for the first chunk of a
segment streamed in chunks (`streaming_mode` 2/3), each timed on its own: the segment's text features
(frontend and BERT), the GPT prefill (up to its first code), the steps up to the chunk's last code,
then voicing the chunk (the phones' encoding, the text encoder over the chunk's codes, the flow, the
generator). The voice's reference work is cached first, as in a repeat request.
"""
from __future__ import annotations

import time

import numpy as np


def first_chunk_breakdown(synth, options, label: str, report) -> None:
    from GPT_SoVITS.pipeline.chunked import ChunkCutter, ChunkVoicer
    from GPT_SoVITS.pipeline.text_features import prepare_prompt_text, text_features

    models, plan = synth.models, options.chunks
    segment = synth.segments(options)[0]
    prompt = synth.prompt_features(prepare_prompt_text(options.prompt_text, options.prompt_language),
                                   options.prompt_language)
    reference = synth.reference(options.ref_wav_path, True)
    timbre = models.sovits.voice_timbre([reference.timbre])

    start = time.perf_counter()
    target = text_features(models, segment, options.text_language, models.symbol_version)
    features_done = time.perf_counter()
    phones = np.asarray(prompt.phone_ids + target.phone_ids, np.int64)
    bert = np.concatenate([prompt.bert, target.bert], axis=1)
    tokens = models.gpt.generate_tokens(phones, reference.prompt_codes, bert, options.sampling, seed=0)
    cutter = ChunkCutter(plan, None)
    chunk, prefill_done = None, None
    for code, last in tokens:
        prefill_done = prefill_done or time.perf_counter()
        chunk = cutter.add(code)
        if chunk or last:
            break
    tokens.close()
    steps_done = time.perf_counter()
    chunk = chunk or cutter.rest()
    voicer = ChunkVoicer(models.sovits, np.asarray(target.phone_ids, np.int64), timbre, plan, options.noise_scale,
                         options.speed, np.random.default_rng(0))
    voicer.voice(chunk, False)
    voiced = time.perf_counter()

    report(f"{label}.text_features", features_done - start, "s")
    report(f"{label}.prefill", prefill_done - features_done, f"s ({phones.size + reference.prompt_codes.size} positions)")
    report(f"{label}.first_steps", steps_done - prefill_done, f"s ({len(chunk) - 1} steps after the prefill's code)")
    report(f"{label}.voicing", voiced - steps_done, f"s ({len(chunk)} codes)")
    report(f"{label}.sum", voiced - start, "s")
