"""Everything derived from a voice's reference clip and prompt text, computed once and cached.

`get_tts_wav` redoes this work on every call (HuBERT over the clip, the codebook search, the
spectrogram, the speaker embedding, SoVITS's timbre vector, the prompt's phonemes and BERT features;
the timbre even once per segment). A voice is used many times, so the results are kept in a small LRU
keyed by what they depend on: the clip's identity (path, size, modification time) and the prompt
text/language. Editing the clip or the prompt gives a new key, so nothing stale is ever served.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Hashable, TypeVar

import numpy as np

from .errors import ReferenceClipError
from .models import Models

HUBERT_RATE = 16000
MIN_CLIP_SAMPLES_16K = 3 * HUBERT_RATE  # the reference's 3-10 s rule, on the 16 kHz clip
MAX_CLIP_SAMPLES_16K = 10 * HUBERT_RATE
HUBERT_PAD_SECONDS = 0.3  # zeros after the clip; sized with the SoVITS rate, as the reference does


@dataclass(frozen=True)
class ReferenceAudio:
    prompt_codes: np.ndarray | None  # int64 [T] semantic codes of the clip; None in reference-free mode
    spec: np.ndarray  # float32 [F, T] linear spectrogram at the acoustic model's rate
    sv_embedding: np.ndarray | None  # the speaker embedding, for the versions that use one (Pro), else None
    timbre: np.ndarray  # the acoustic model's timbre of this clip (SoVITS's `ge`: style encoder, + SV for Pro)


def clip_identity(path: str) -> tuple[str, int, int]:
    """(real path, size, mtime_ns): changes whenever the file is replaced or edited."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise ReferenceClipError(f"参考音频不存在或不可读 (reference clip not readable): {os.path.basename(path)}") from exc
    return os.path.realpath(path), stat.st_size, stat.st_mtime_ns


def prompt_codes(models: Models, path: str) -> np.ndarray:
    """SSL (HuBERT) features of the 16 kHz clip (+ the reference's zero pad) -> its semantic codes [T]."""
    from GPT_SoVITS.audio.io import load_librosa

    try:
        wav16k = load_librosa(path, HUBERT_RATE)
    except Exception as exc:  # librosa/soundfile raise many types for undecodable files
        raise ReferenceClipError(f"参考音频解析失败 (reference clip does not decode): {exc}") from exc
    if not MIN_CLIP_SAMPLES_16K <= wav16k.shape[0] <= MAX_CLIP_SAMPLES_16K:
        seconds = wav16k.shape[0] / HUBERT_RATE
        raise ReferenceClipError(f"参考音频需在 3~10 秒范围内 (reference clip must last 3-10 s, got {seconds:.2f} s)")
    padded = np.concatenate([wav16k, np.zeros(int(models.sample_rate * HUBERT_PAD_SECONDS), np.float32)])
    return models.sovits.prompt_codes(models.hubert.content(padded))


def analyse_reference(models: Models, path: str, with_prompt_codes: bool) -> ReferenceAudio:
    codes = prompt_codes(models, path) if with_prompt_codes else None
    try:
        spec, audio = models.sovits.reference_spectrogram(path)
    except Exception as exc:
        raise ReferenceClipError(f"参考音频解析失败 (reference clip does not decode): {exc}") from exc
    embedding = models.speaker.embedding(audio, models.sample_rate) if models.is_pro else None
    timbre = models.sovits.reference_timbre(spec, embedding)
    return ReferenceAudio(prompt_codes=codes, spec=spec, sv_embedding=embedding, timbre=timbre)


T = TypeVar("T")


class LruCache:
    """A small thread-safe LRU map; `get_or_compute` runs `compute` outside the lock."""

    def __init__(self, capacity: int = 64):
        self.capacity = capacity
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]  # type: ignore[return-value]
        value = compute()
        with self._lock:
            self.misses += 1
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
