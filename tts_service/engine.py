"""The one seam between the service and GPT_SoVITS.pipeline.

The service starts with or without weights. `Engine` knows where the weights should be, loads the
synthesizer once in a background thread (so the server answers within seconds), and swaps it whole
on /set_model: the new one is built first, then one reference is replaced, so requests in flight
finish on the old one and a failed load keeps it. Every method that runs the models blocks: callers
run it in a worker thread, never on the event loop.

`SpeechEngine` is what the service asks of an engine: `Engine` and the tests' stand-ins (tests/support)
both satisfy it, so the service calls the same methods whichever it is given.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable, ContextManager, Iterator, NamedTuple, Protocol, runtime_checkable

import numpy as np

from GPT_SoVITS.pipeline import ModelPaths, SynthesisError, SynthesisOptions, VoiceWeights, WeightsMissingError
from GPT_SoVITS.pipeline.models import missing_weights_error
from GPT_SoVITS.versions import BASE_WEIGHTS

from . import __version__
from .settings import GPT_WEIGHT_FILE, SOVITS_WEIGHT_FILE, WEIGHT_SETTINGS, Settings
from .voice_weights import Pair, PairCache

log = logging.getLogger("tts_service.engine")

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]


class AudioStream(NamedTuple):
    """A synthesis sent as it is made: the sample rate, and int16 mono pieces (segments, or chunks of them)."""

    sample_rate: int
    pieces: Iterator[np.ndarray]


@runtime_checkable
class SpeechEngine(Protocol):
    def status(self) -> dict:
        """/healthz's engine part: state, weights, versions, sample rate, device, version."""

    def start_loading(self) -> None:
        """Begin loading the weights in the background (the app's start-up)."""

    def synthesize(self, options: SynthesisOptions, on_progress: Progress | None = None,
                   should_cancel: Cancel | None = None) -> tuple[int, np.ndarray]:
        """(sample rate, int16 mono samples) of the whole synthesis; raises GPT_SoVITS.pipeline errors."""

    def stream(self, options: SynthesisOptions, should_cancel: Cancel | None = None) -> AudioStream:
        """The same synthesis piece by piece; the first piece is made when the caller asks for it."""

    def set_model(self, gpt_path: str | None = None, sovits_path: str | None = None) -> dict:
        """Load other GPT and/or SoVITS weights and swap them in; the new status."""

    def background_turn(self) -> ContextManager[None]:
        """Held by the service's own MindSpore work (a fine-tune's training step) so that it never computes
        beside a synthesis: taken once no synthesis used the models for a moment, given back after."""


class Engine:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._paths = {field: getattr(settings, field) for field, _, _ in WEIGHT_SETTINGS.values()}
        self._synth = None  # the loaded Synthesizer; replaced whole, never mutated
        self._state = "idle"  # idle | loading | ready | failed
        self._error: str | None = None
        self._loaded = threading.Event()
        self._swap_lock = threading.Lock()  # one load at a time
        self._voices = PairCache(settings.voice_weights_cache)  # the pairs of voices with their own weights

    # ---- where the weights are -------------------------------------------------------------
    def missing_error(self, paths: dict[str, str] | None = None) -> WeightsMissingError | None:
        """The error naming the weights every version needs that are absent (None: all there); the speaker
        verifier only matters once the SoVITS file says it is a Pro model."""
        error = missing_weights_error(_model_paths(paths or self._paths))
        return None if error is None else self._worded(error)

    def _worded(self, error: WeightsMissingError) -> WeightsMissingError:
        """The library's message with this service's flags and variables, and no absolute server paths."""
        return error.worded_for(_how_to_set, self._display)

    def status(self) -> dict:
        from GPT_SoVITS import runtime

        current = runtime.current()
        synth = self._synth  # None until loaded
        return {
            "state": "missing" if synth is None and self.missing_error() is not None else self._state,
            "error": self._error,
            "weights": self._weights_status(BASE_WEIGHTS if synth is None else synth.needed_weights),
            "versions": {} if synth is None else dict(synth.versions),
            "sample_rate": None if synth is None else synth.sample_rate,
            "device": {"target": current.device_target if current else self.settings.device_target,
                       "id": current.device_id if current else self.settings.device_id},
            "batching": self._batching_status(synth),
            "voice_weights": self._voices.status(self._display),
            "version": __version__,
        }

    def _batching_status(self, synth) -> dict:
        """Whether segments share the GPT's batch, and (once loaded) how many decode or wait now."""
        status = {"enabled": self.settings.batching}
        if synth is not None and getattr(synth, "batching_stats", None) is not None:
            status.update(synth.batching_stats() or {})
        return status

    def _weights_status(self, needed: tuple[str, ...]) -> dict:
        """Each weight setting's path (shown relative), whether it is there, and whether the loaded version
        needs it (before loading: what every version needs)."""
        return {field: {"path": self._display(self._paths[field]), "present": Path(self._paths[field]).exists(),
                        "needed": key in needed}
                for key, (field, _, _) in WEIGHT_SETTINGS.items()}

    def _display(self, path: str) -> str:
        """Paths inside the data dir or the repo are shown relative: no absolute server paths out."""
        for root in (Path(self.settings.data_dir).resolve(), Path(__file__).resolve().parent.parent):
            try:
                return str(Path(path).resolve().relative_to(root))
            except ValueError:
                continue
        return Path(path).name

    # ---- loading -----------------------------------------------------------------------------
    def start_loading(self) -> None:
        """Load in a daemon thread if the weights are all there; otherwise stay idle (and say why)."""
        error = self.missing_error()
        if error is not None:
            log.warning("%s", error)
            return
        self._state = "loading"
        threading.Thread(target=self._load_quietly, name="engine-load", daemon=True).start()

    def _load_quietly(self) -> None:
        try:
            self._load(self._paths)
        except Exception as exc:  # the reason is kept for /healthz and the next synthesis
            log.error("model loading failed: %s", exc)

    def _load(self, paths: dict[str, str]):
        error = self.missing_error(paths)
        if error is not None:
            raise error
        with self._swap_lock:
            self._state = "loading" if self._synth is None else self._state
            try:
                from GPT_SoVITS import runtime

                runtime.configure(self.settings.device_target, self.settings.device_id)  # once per process
                synthesizer_cls = _synthesizer_class()
                started = time.perf_counter()
                new = synthesizer_cls.load(_model_paths(paths), batching=self._batching())
                log.info("models loaded in %.2f s", time.perf_counter() - started)
                _log_warm_up("warm-up", new.warm_up())  # before the swap: no request meets a cold one
            except Exception as exc:
                if isinstance(exc, WeightsMissingError):  # one the version needs (a Pro model's verifier)
                    exc = self._worded(exc)
                if self._synth is None:
                    self._state, self._error = "failed", str(exc)
                self._loaded.set()
                raise exc if isinstance(exc, SynthesisError) else SynthesisError(f"模型加载失败: {exc}") from exc
            old, self._synth, self._paths = self._synth, new, dict(paths)  # the swap: one reference
            if old is not None:
                old.close()  # its batching thread ends once the requests it holds are decoded
                self._voices.clear()  # they share the old HuBERT/BERT: loaded again beside the new pair
            self._state, self._error = "ready", None
            self._loaded.set()
            threading.Thread(target=_warm_up_rest, args=(new,), name="engine-warm-up", daemon=True).start()
            return new

    def _batching(self):
        """The pipeline's batching settings, or None (`--no-batching`): one segment at a time."""
        from GPT_SoVITS.pipeline.options import Batching

        settings = self.settings
        if not settings.batching:
            return None
        return Batching(batch_sizes=settings.batch_sizes, segments_ahead=settings.parallel_segments)

    def _ready(self):
        """The current synthesizer, loading it now (in this worker thread) if nobody has yet."""
        if self._synth is not None:
            return self._synth
        error = self.missing_error()
        if error is not None:
            raise error
        if self._state == "loading":
            self._loaded.wait()
            if self._synth is not None:
                return self._synth
        if self._state == "failed":
            raise SynthesisError(f"模型加载失败: {self._error}")
        return self._load(self._paths)

    # ---- a voice's own weights ---------------------------------------------------------------
    def _voicing(self, options: SynthesisOptions):
        """The synthesizer for this synthesis: the default one, or the pair of the voice's own weights."""
        default = self._ready()
        pair = self._pair(options.weights)
        if pair is None:
            return default
        return self._voices.get(pair, lambda pair: self._load_pair(pair, default))

    def _pair(self, weights: VoiceWeights | None) -> Pair | None:
        """The (GPT, SoVITS) files of a voice's weights, the default's where it names none; None: the default."""
        if weights is None:
            return None
        paths = self._paths
        pair = (weights.gpt or paths["gpt_path"], weights.sovits or paths["sovits_path"])
        return None if pair == (paths["gpt_path"], paths["sovits_path"]) else pair

    def _load_pair(self, pair: Pair, default):
        """Load a voice's pair beside the default one, sharing its HuBERT/BERT and its models' lock."""
        missing = [Path(path).name for path in pair if not Path(path).is_file()]
        if missing:
            raise SynthesisError(f"音模的权重文件不存在: {', '.join(missing)}")
        paths = dict(self._paths, gpt_path=pair[0], sovits_path=pair[1])
        started = time.perf_counter()
        try:
            synth = _synthesizer_class().load(_model_paths(paths), batching=self._batching(), sharing=default)
        except SynthesisError:
            raise
        except Exception as exc:
            raise SynthesisError(f"音模权重加载失败: {exc}") from exc
        log.info("voice weights %s + %s loaded in %.2f s", self._display(pair[0]), self._display(pair[1]),
                 time.perf_counter() - started)
        return synth

    # ---- synthesis ---------------------------------------------------------------------------
    def background_turn(self) -> ContextManager[None]:
        """The loaded models' lock (voices' pairs share it); before they are loaded, the load's own lock, so
        that the work waits for a load in progress rather than computing beside it."""
        synth = self._synth
        return self._swap_lock if synth is None else synth.background_turn()

    def synthesize(self, options: SynthesisOptions, on_progress: Progress | None = None,
                   should_cancel: Cancel | None = None) -> tuple[int, np.ndarray]:
        """(sample rate, int16 mono samples); raises GPT_SoVITS.pipeline errors."""
        return self._voicing(options).synthesize(options, on_progress, should_cancel)

    def stream(self, options: SynthesisOptions, should_cancel: Cancel | None = None) -> AudioStream:
        synth = self._voicing(options)
        return AudioStream(synth.sample_rate, synth.stream(options, should_cancel))

    def set_model(self, gpt_path: str | None = None, sovits_path: str | None = None) -> dict:
        """Load new GPT and/or SoVITS weights; on success swap and remember them in gweight/sweight.txt."""
        paths = dict(self._paths)
        if gpt_path:
            paths["gpt_path"] = str(Path(gpt_path).expanduser().resolve())
        if sovits_path:
            paths["sovits_path"] = str(Path(sovits_path).expanduser().resolve())
        self._load(paths)
        data_dir = Path(self.settings.data_dir)
        if gpt_path:
            (data_dir / GPT_WEIGHT_FILE).write_text(paths["gpt_path"], encoding="utf-8")
        if sovits_path:
            (data_dir / SOVITS_WEIGHT_FILE).write_text(paths["sovits_path"], encoding="utf-8")
        return self.status()


def _model_paths(paths: dict[str, str]) -> ModelPaths:
    """The library's `ModelPaths` from this service's weight settings."""
    return ModelPaths(**{key: paths[field] for key, (field, _, _) in WEIGHT_SETTINGS.items()})


def _how_to_set(key: str) -> str:
    _, flag, variable = WEIGHT_SETTINGS[key]
    return f"{flag} or the variable {variable}"


def _warm_up_rest(synth) -> None:
    """After the swap, in the background: what only some requests need (requests wait for the models'
    lock meanwhile, as they would for each other)."""
    _log_warm_up("background warm-up", synth.warm_up_rest())


def _log_warm_up(what: str, timings: dict[str, float]) -> None:
    log.info("%s: %s", what, ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items()))


def _synthesizer_class():
    try:
        from GPT_SoVITS.pipeline.synthesizer import Synthesizer
    except ImportError as exc:
        raise SynthesisError(f"推理管线未安装 (GPT_SoVITS.pipeline.synthesizer: {exc})") from exc
    return Synthesizer

