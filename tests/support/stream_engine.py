"""A test double for the engine's streaming side: one tone per segment, no model.

Segments are the text's `|`-separated pieces. A segment's pitch depends on the voice (the reference
clip) and its index, so a test can tell voices and segments apart in decoded audio. `gate` holds the
LAST segment until a test releases it, which proves ordering without timing guesses: a client that
gets audio while the gate is closed got it before the last segment existed.
A piece `FAIL` raises InputError when that segment is reached (the first: before any byte is sent).
"""
from __future__ import annotations

import threading
import zlib

import numpy as np

from GPT_SoVITS.pipeline import CancelledError, InputError
from support.engine_double import SAMPLE_RATE, EngineDouble
from tts_service.engine import AudioStream

SEGMENT_SECONDS = 0.25


def pitch(ref_wav_path: str, index: int) -> float:
    """Hz of segment `index` for a voice: 200-599 Hz from the clip path, +50 Hz per segment."""
    return 200 + zlib.crc32(ref_wav_path.encode()) % 400 + 50 * index


def segment_audio(ref_wav_path: str, index: int) -> np.ndarray:
    t = np.arange(int(SAMPLE_RATE * SEGMENT_SECONDS)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * pitch(ref_wav_path, index) * t) * 8000).astype(np.int16)


class StreamEngine(EngineDouble):
    def __init__(self, gate: threading.Event | None = None):
        self.gate = gate
        self.calls: list = []  # the SynthesisOptions of every stream, in order
        self.produced: list[int] = []  # segment indexes yielded, across calls
        self.cancelled = 0

    def stream(self, options, should_cancel=None) -> AudioStream:
        self.calls.append(options)
        return AudioStream(SAMPLE_RATE, self._segments(options, should_cancel or (lambda: False)))

    def _segments(self, options, should_cancel):
        pieces = options.text.split("|")
        for index, piece in enumerate(pieces):
            if should_cancel():
                self.cancelled += 1
                raise CancelledError(f"cancelled after {index}/{len(pieces)} segments")
            if index == len(pieces) - 1 and self.gate is not None and index > 0:
                self.gate.wait(timeout=30)  # a bound only so that a broken stream fails instead of hanging
            if piece.strip() == "FAIL":
                raise InputError("文本无法合成（测试）")
            self.produced.append(index)
            yield segment_audio(options.ref_wav_path, index)
