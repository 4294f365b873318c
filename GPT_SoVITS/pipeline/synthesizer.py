"""`Synthesizer`: the reference's `get_tts_wav`, with the reference work cached per voice.

For each call:
  1. the prompt text gets terminal punctuation; the target text is cut into segments (cut0..cut5,
     short pieces merged) exactly as the reference does, and a segment too long for BERT is cut again
     (`text_features.fit_to_bert`; the reference fails on it);
  2. the reference clip gives prompt codes (HuBERT -> SoVITS codebook), its spectrogram, for Pro
     models a speaker embedding, and from those SoVITS's timbre vector; the prompt text gives
     phonemes and BERT features (all cached per clip and prompt);
  3. per segment: phonemes + BERT -> GPT semantic tokens -> SoVITS waveform, peak-limited to 1,
     followed by `pause_second` of silence;
  4. 32 kHz int16 (`audio * 32767`, truncated, as the reference).
Segments come out in order (`stream`), which is what streaming responses and task progress use;
`synthesize` joins them. With `Batching`, a text's segments decode together with every other request's
in the GPT's continuous batch (`scheduler.py`), up to `segments_ahead` of them ahead of the one being
voiced; without it, one at a time, each alone. With a `ChunkPlan` (`options.chunks`) a segment comes in
chunks of ~16 codes as the GPT decodes (`chunked.py`): sooner, approximately.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable, ContextManager, Iterator

import numpy as np

from GPT_SoVITS.models.backends import SamplingOptions, Timbre

from .chunked import ChunkCutter, ChunkVoicer, chunks_of
from .errors import CancelledError, InputError
from .models_lock import ModelsLock
from .models import Models, load_models
from .options import Batching, ModelPaths, SynthesisOptions
from .scheduler import SegmentsAhead, SemanticScheduler, TokenStream
from .reference import LruCache, ReferenceAudio, analyse_reference, clip_identity
from .text_features import (TextFeatures, features_of_phones, fit_to_bert, phones, prepare_prompt_text,
                            split_target_text)

ProgressHook = Callable[[int, int], None]  # (segments done, segments in total)
CancelCheck = Callable[[], bool]


def to_int16(audio: np.ndarray) -> np.ndarray:
    """The reference's conversion: scale by 32767 and truncate (peaks are already limited to 1)."""
    return (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)


class Synthesizer:
    def __init__(self, models: Models, cache_size: int = 64, batching: Batching | None = None,
                 models_lock: ModelsLock | None = None):
        self.models = models
        self.batching = batching
        self._references = LruCache(cache_size)
        self._prompts = LruCache(cache_size)
        # MindSpore cells are not safe to run from several threads at once: every model call takes this
        # lock in turn (the batch's steps, each request's text features and voicing), and background
        # warm-up waits for a quiet moment. Synthesizers sharing models (`load`'s `sharing`) share it too.
        self._models_lock = models_lock or ModelsLock()
        self._scheduler = None if batching is None else SemanticScheduler(models.gpt, self._models_lock,
                                                                          batching.batch_sizes)

    @classmethod
    def load(cls, paths: ModelPaths, batching: Batching | None = None,
             sharing: "Synthesizer | None" = None) -> "Synthesizer":
        """Load `paths`' models; with `sharing`, reuse its HuBERT/BERT/speaker models (same files) and
        take turns with it on one models' lock (the shared cells run one call at a time)."""
        if sharing is None:
            return cls(load_models(paths), batching=batching)
        return cls(load_models(paths, sharing.models), batching=batching, models_lock=sharing._models_lock)

    @property
    def sample_rate(self) -> int:
        return self.models.sample_rate

    @property
    def versions(self) -> dict[str, str]:
        return self.models.versions()

    @property
    def needed_weights(self) -> tuple[str, ...]:
        """The weight files (keys of `GPT_SoVITS.versions.WEIGHT_FILES`) the loaded version needs."""
        return self.models.version.weights

    def warm_up(self) -> dict[str, float]:
        """Pay the first request's start-up costs now (see `warmup.py`); seconds per stage."""
        from .warmup import GPT_STEPS, warm_up

        if self._scheduler is None:
            return self._locked(warm_up, self.models)
        decode = lambda phones, codes, bert: self._scheduler.submit(  # noqa: E731  (takes the lock itself)
            phones, codes, bert, SamplingOptions(), seed=0, owner=self, early_stop_num=GPT_STEPS).result()
        return warm_up(self.models, self._scheduler.batch, decode)

    def background_turn(self) -> ContextManager[None]:
        """The models' lock for other MindSpore work of the caller's (a fine-tune's training step): MindSpore
        crashes when another thread computes during a synthesis (seen with a training step's gradients
        beside BERT), so that work takes turns with these models as the background warm-up does: once no
        request used them for a moment, one piece at a time."""
        return self._models_lock.background()

    def warm_up_rest(self) -> dict[str, float]:
        """The warm-up of what only some requests need, meant for a background thread once serving: one
        stage at a time, each when no request has used the models for a moment."""
        from .warmup import warm_up_rest

        def when_quiet(stage) -> None:
            with self._models_lock.background():
                stage()

        return warm_up_rest(self.models, when_quiet, None if self._scheduler is None else self._scheduler.batch)

    # -- cached reference work ---------------------------------------------------------------------
    def reference(self, path: str, with_prompt_codes: bool) -> ReferenceAudio:
        key = (clip_identity(path), with_prompt_codes)
        return self._references.get_or_compute(key, lambda: self._locked(analyse_reference, self.models, path,
                                                                          with_prompt_codes))

    def prompt_features(self, prompt_text: str, language: str) -> TextFeatures:
        version = self.models.symbol_version
        key = (prompt_text, language, version)
        return self._prompts.get_or_compute(key, lambda: self._text_features(prompt_text, language))

    def _text_features(self, text: str, language: str) -> TextFeatures:
        """The frontend (pure Python) runs without the models' lock, beside other requests' decoding
        steps; only BERT takes the lock."""
        result = phones(text, language, self.models.symbol_version)
        return self._locked(features_of_phones, self.models, text, result)

    def _locked(self, fn, *args):
        with self._models_lock.request():
            return fn(*args)

    # -- synthesis -----------------------------------------------------------------------------------
    def segments(self, options: SynthesisOptions) -> list[str]:
        """The target text as the pieces that will be synthesised one by one: the cut method's, those too
        long for BERT cut again (`fit_to_bert`)."""
        segments = split_target_text(options.text, options.how_to_cut, options.text_language)
        if not segments:
            raise InputError("目标文本为空 (the text is empty after cleaning)")
        return fit_to_bert(self.models, segments, options.text_language, self.models.symbol_version)

    def stream(self, options: SynthesisOptions, should_cancel: CancelCheck | None = None,
               on_progress: ProgressHook | None = None) -> Iterator[np.ndarray]:
        """int16 audio per segment (its pause included), as soon as each is ready. With batching, the
        first segment decodes before the others are handed to the batch: its audio comes as early as it
        would alone (a bigger batch makes every step slower)."""
        return self._segments_audio(options, should_cancel, on_progress, first_audio_first=True)

    def _segments_audio(self, options: SynthesisOptions, should_cancel: CancelCheck | None,
                        on_progress: ProgressHook | None, first_audio_first: bool) -> Iterator[np.ndarray]:
        ref_free = options.ref_free or not options.prompt_text.strip()
        segments = self.segments(options)
        rng = np.random.default_rng(options.seed)
        prompt = None
        if not ref_free:
            prompt = self.prompt_features(prepare_prompt_text(options.prompt_text, options.prompt_language),
                                          options.prompt_language)
        references = [self.reference(options.ref_wav_path, not ref_free)]
        references += [self.reference(path, False) for path in options.extra_ref_wav_paths]
        pause = np.zeros(int(self.sample_rate * options.pause_second), dtype=np.int16)
        seeds = [tuple(int(s) for s in rng.integers(0, 2**31 - 1, size=2)) for _ in segments]  # (gpt, noise)
        ahead = None
        if self._scheduler is not None:
            count = options.parallel_segments or self.batching.segments_ahead
            ahead = SegmentsAhead(self._scheduler, lambda text: self._gpt_inputs(text, options, prompt), segments,
                                  options.sampling, references[0].prompt_codes, [g for g, _ in seeds],
                                  should_cancel, count, hold_back_first=first_audio_first)
        try:
            for index, segment in enumerate(segments):
                if should_cancel is not None and should_cancel():
                    raise CancelledError(f"cancelled after {index}/{len(segments)} segments")
                noise_seed = seeds[index][1]
                if options.chunks is not None:
                    if ahead is None:
                        pieces = self._chunked_segment(segment, options, prompt, references, seeds[index][0],
                                                       noise_seed, should_cancel)
                    else:
                        pieces = self._scheduled_chunks(*ahead.take(index), options, references, noise_seed)
                    for piece in pieces:
                        yield to_int16(limit_peak(piece))
                    if pause.size:
                        yield pause
                else:
                    if ahead is None:
                        audio = self._segment(segment, options, prompt, references, seeds[index][0], noise_seed)
                    else:
                        audio = self._voice_segment(*ahead.take(index), options, references, noise_seed)
                    yield np.concatenate([to_int16(audio), pause])
                if on_progress is not None:
                    on_progress(index + 1, len(segments))
        finally:
            if ahead is not None:
                ahead.close()

    def synthesize(self, options: SynthesisOptions, on_progress: ProgressHook | None = None,
                   should_cancel: CancelCheck | None = None) -> tuple[int, np.ndarray]:
        chunks = list(self._segments_audio(options, should_cancel, on_progress, first_audio_first=False))
        return self.sample_rate, np.concatenate(chunks)

    def _timbre(self, references: list[ReferenceAudio]) -> Timbre:
        """The voice's timbre from its clips' cached ones."""
        return self.models.sovits.voice_timbre([ref.timbre for ref in references])

    def _gpt_inputs(self, text: str, options: SynthesisOptions, prompt: TextFeatures | None):
        """The segment's features, and the GPT's phonemes and BERT features (prompt text first)."""
        target = self._text_features(text, options.text_language)
        if prompt is None:
            return target, target.phone_ids, target.bert
        return target, prompt.phone_ids + target.phone_ids, np.concatenate([prompt.bert, target.bert], axis=1)

    def _segment(self, text: str, options: SynthesisOptions, prompt: TextFeatures | None,
                 references: list[ReferenceAudio], gpt_seed: int, noise_seed: int) -> np.ndarray:
        """One segment decoded alone, then voiced (without batching)."""
        target, phoneme_ids, bert = self._gpt_inputs(text, options, prompt)
        with self._models_lock.request():
            result = self.models.gpt.generate(np.asarray(phoneme_ids, np.int64), references[0].prompt_codes,
                                              bert, options.sampling, seed=gpt_seed)
            audio = self.models.sovits.decode(result.webui_tokens, np.asarray(target.phone_ids, np.int64),
                                              self._timbre(references), noise_scale=options.noise_scale,
                                              speed=options.speed, seed=noise_seed)
        return limit_peak(audio)

    def _chunked_segment(self, text: str, options: SynthesisOptions, prompt: TextFeatures | None,
                         references: list[ReferenceAudio], gpt_seed: int, noise_seed: int,
                         should_cancel: CancelCheck | None) -> Iterator[np.ndarray]:
        """One segment as float32 chunks while the GPT decodes (see `chunked.py`).

        The models are not re-entrant and the GPT's cache lives across the whole segment, so a worker
        thread holds the models' lock for the segment and hands chunks over a queue; a consumer that
        stops reading (or a cancel) ends the work at the next chunk, and the lock is never held while
        waiting for a reader."""
        target, phoneme_ids, bert = self._gpt_inputs(text, options, prompt)
        plan = options.chunks
        handover: queue.Queue = queue.Queue()
        stopped = threading.Event()
        done = object()

        def produce() -> None:
            try:
                with self._models_lock.request():
                    gpt = self.models.gpt
                    codes = gpt.generate_tokens(np.asarray(phoneme_ids, np.int64), references[0].prompt_codes,
                                                bert, options.sampling, seed=gpt_seed)
                    voicer = ChunkVoicer(self.models.sovits, np.asarray(target.phone_ids, np.int64),
                                         self._timbre(references), plan,
                                         options.noise_scale, options.speed, np.random.default_rng(noise_seed))
                    cutter = ChunkCutter(plan, gpt.mute_similarity if plan.at_pauses else None)
                    for chunk, last in chunks_of(codes, cutter):
                        handover.put(voicer.voice(chunk, last))
                        if stopped.is_set() or (should_cancel is not None and should_cancel()):
                            break
            except BaseException as exc:  # handed to the reader, raised there
                handover.put(exc)
            finally:
                handover.put(done)

        threading.Thread(target=produce, name="chunked-segment", daemon=True).start()
        try:
            while (item := handover.get()) is not done:
                if isinstance(item, BaseException):
                    raise item
                if item.size:
                    yield item
        finally:
            stopped.set()

    def _voice_segment(self, target: TextFeatures, codes: TokenStream, options: SynthesisOptions,
                       references: list[ReferenceAudio], noise_seed: int) -> np.ndarray:
        """A segment decoded in the batch, voiced once all its codes are there."""
        result = codes.result()
        with self._models_lock.request():
            audio = self.models.sovits.decode(result.webui_tokens, np.asarray(target.phone_ids, np.int64),
                                              self._timbre(references), noise_scale=options.noise_scale,
                                              speed=options.speed, seed=noise_seed)
        return limit_peak(audio)

    def _scheduled_chunks(self, target: TextFeatures, codes: TokenStream, options: SynthesisOptions,
                          references: list[ReferenceAudio], noise_seed: int) -> Iterator[np.ndarray]:
        """A segment decoded in the batch, voiced chunk by chunk as its codes arrive (`chunked.py`)."""
        plan = options.chunks
        with self._models_lock.request():  # model calls, however small, take turns
            voicer = ChunkVoicer(self.models.sovits, np.asarray(target.phone_ids, np.int64),
                                 self._timbre(references), plan, options.noise_scale, options.speed,
                                 np.random.default_rng(noise_seed))
            cutter = ChunkCutter(plan, self.models.gpt.mute_similarity if plan.at_pauses else None)
        for chunk, last in chunks_of(codes, cutter):
            with self._models_lock.request():
                audio = voicer.voice(chunk, last)
            if audio.size:
                yield audio

    def batching_stats(self) -> dict[str, int] | None:
        """Segments decoding in the batch and waiting for a slot, and the most it holds (None: no batching)."""
        return None if self._scheduler is None else self._scheduler.stats()

    def close(self) -> None:
        """Stop the batching thread once what it holds is decoded (after a model swap)."""
        if self._scheduler is not None:
            self._scheduler.close()


def limit_peak(audio: np.ndarray) -> np.ndarray:
    """The reference's guard against 16-bit clipping: scale down to a peak of 1 when louder."""
    peak = np.abs(audio).max(initial=0.0)
    return audio / peak if peak > 1 else audio
