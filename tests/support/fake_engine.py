"""A test double for `tts_service.engine.Engine`: a few segments, a pause per segment, progress
callbacks and cancellation at segment boundaries, like the real pipeline, without any model.

`hold` lets a test freeze a task between two segments (no timing guesses): while the event is clear,
the synthesis waits after its first segment, still polling `should_cancel`.
A text containing `FAIL` raises an InputError, as a bad request would in the real pipeline.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from GPT_SoVITS.pipeline import CancelledError, InputError
from support.engine_double import SAMPLE_RATE, EngineDouble


def expected_audio(text: str, segments: int, seconds_per_segment: float = 0.05) -> np.ndarray:
    """The exact samples a task with this text gets: a tone whose pitch depends on the text."""
    pitch = 200 + sum(text.encode("utf-8")) % 400
    t = np.arange(int(SAMPLE_RATE * seconds_per_segment * segments)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * pitch * t) * 8000).astype(np.int16)


class FakeEngine(EngineDouble):
    def __init__(self, segments: int = 3, delay: float = 0.01, hold: threading.Event | None = None):
        self.segments, self.delay, self.hold = segments, delay, hold
        self.calls: list[str] = []  # texts, in the order they started
        self.lock = threading.Lock()

    def synthesize(self, options, on_progress=None, should_cancel=None):
        with self.lock:
            self.calls.append(options.text)
        if "FAIL" in options.text:
            raise InputError("文本无法合成（测试）")
        for done in range(1, self.segments + 1):
            if should_cancel is not None and should_cancel():
                raise CancelledError(f"cancelled at segment {done}")
            time.sleep(self.delay)
            if on_progress is not None:
                on_progress(done, self.segments)
            while done == 1 and self.hold is not None and not self.hold.is_set():
                if should_cancel is not None and should_cancel():
                    raise CancelledError("cancelled while held")
                time.sleep(0.005)
        return SAMPLE_RATE, expected_audio(options.text, self.segments)
