"""What every stand-in for the service's engine shares (`tts_service.engine.SpeechEngine`): it is ready at
once, has no weights to load or switch, and streams what it synthesises (or synthesises what it streams).
A double overrides `synthesize` or `stream` (or both), and `status` if a test looks at it."""
from __future__ import annotations

import contextlib

import numpy as np

from GPT_SoVITS.pipeline import SynthesisError
from tts_service.engine import AudioStream

SAMPLE_RATE = 32000


class EngineDouble:
    sample_rate = SAMPLE_RATE

    def status(self) -> dict:
        return {"state": "ready", "error": None, "weights": {}, "versions": {}, "sample_rate": self.sample_rate}

    def start_loading(self) -> None:
        """Nothing to load."""

    def set_model(self, gpt_path: str | None = None, sovits_path: str | None = None) -> dict:
        raise SynthesisError("测试引擎没有可切换的权重")

    def background_turn(self):
        """No models: nothing to take turns with."""
        return contextlib.nullcontext()

    def synthesize(self, options, on_progress=None, should_cancel=None) -> tuple[int, np.ndarray]:
        rate, pieces = self.stream(options, should_cancel)
        return rate, np.concatenate(list(pieces))

    def stream(self, options, should_cancel=None) -> AudioStream:
        rate, samples = self.synthesize(options, None, should_cancel)
        return AudioStream(rate, iter([samples]))
