"""What the synthesis pipeline needs from each model: small protocols, one per role.

The pipeline (`GPT_SoVITS.pipeline`) holds its models as these types and calls nothing else on them,
so a model generation with other networks is a new set of classes that satisfy them, not branches in
the pipeline. Today's back end: `gpt.GPT` (semantic), `sovits.SoVITS` (acoustic), `bert.ChineseBert`
(text features), `hubert.HubertModel` (SSL), `speaker.SpeakerVerifier` (Pro versions' speaker embedding).

Arrays crossing the seam are numpy. What a back end hands out only to take it back later (a voice's
timbre, latent frames of a streaming window) is its own type: the pipeline keeps it and passes it on.

Each model lists its own warm-up: `warm_up_stages(background=False)` is what must run before the first
request (it would otherwise pay for it), `background=True` what the service builds once it is serving
(requests meanwhile run without it, only slower). A stage is `(name, run)`; the name is reported with
the seconds it took.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Generator, Protocol, Sequence, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from .gpt.decode import SemanticResult

WarmUpStage = tuple[str, Callable[[], None]]
Timbre = Any  # a voice's timbre as the acoustic model holds it
Frames = Any  # latent frames [1, channels, T] as the acoustic model holds them; sliced on the last axis


@dataclass(frozen=True)
class SamplingOptions:
    """How the semantic model picks each code. The one set of defaults of every caller (the service's
    fields, the command line, a synthesis): the reference's `inference_webui.get_tts_wav` signature (`top_k`
    20, `top_p` 0.6, `temperature` 0.6, penalty 1.35), which the service has always documented. (The
    reference's web page starts its sliders at 15 / 1 / 1, and its api_v2 at 5 / 1 / 1.)"""

    top_k: int | None = 20
    top_p: float | None = 0.6
    temperature: float = 0.6
    repetition_penalty: float = 1.35


class TextTooLongError(ValueError):
    """The text needs more positions than the text-feature model has (`max_tokens`)."""

    def __init__(self, tokens: int, limit: int):
        super().__init__(f"text too long for BERT: {tokens} tokens > {limit}")
        self.tokens, self.limit = tokens, limit


@runtime_checkable
class WarmsUp(Protocol):
    def warm_up_stages(self, *, background: bool) -> list[WarmUpStage]:
        """Stages to run before serving (False) or in the background once serving (True)."""


@runtime_checkable
class SemanticModel(WarmsUp, Protocol):
    """Text to semantic codes (the GPT): phonemes with their text features, after the prompt's codes, ->
    generated codes. The decoding cache is its own, made and dropped within each call."""

    @property
    def mute_similarity(self) -> np.ndarray:
        """[vocab] similarity of every code to the silence code: where chunked streaming may cut."""

    def generate(self, phoneme_ids: np.ndarray, prompt: np.ndarray | None, features: np.ndarray,
                 options: SamplingOptions = SamplingOptions(), early_stop_num: int | float | None = None,
                 seed: int | np.random.Generator | None = None) -> SemanticResult:
        """The codes of one segment at once; `webui_tokens` are those the acoustic model voices."""

    def generate_tokens(self, phoneme_ids: np.ndarray, prompt: np.ndarray | None, features: np.ndarray,
                        options: SamplingOptions = SamplingOptions(), early_stop_num: int | float | None = None,
                        seed: int | np.random.Generator | None = None,
                        ) -> Generator[tuple[int, bool], None, SemanticResult]:
        """The same decoding as a stream of `(code, last)` as each code is kept."""

    def new_batch(self, batch_sizes: Sequence[int]) -> "SemanticBatchDecoder":
        """An empty batch in which many utterances decode together, one code each per `step`."""


Chosen = list[tuple[int, bool]]  # `(code, last)` pairs kept by one forward pass, as `generate_tokens` yields them


@runtime_checkable
class SemanticBatchDecoder(WarmsUp, Protocol):
    """Continuous batching: utterances join (`add`) and leave (`remove`, or by stopping) between steps; each
    keeps the sampler, seed and stop rules it would have alone. Not thread-safe: one caller at a time."""

    def has_room(self, positions: int = 0) -> bool:
        """Whether an utterance whose prefill takes `positions` (phonemes + prompt codes) may join now."""

    def add(self, phoneme_ids: np.ndarray, prompt: np.ndarray | None, features: np.ndarray,
            options: SamplingOptions = SamplingOptions(), early_stop_num: int | float | None = None,
            seed: int | np.random.Generator | None = None) -> tuple[Any, Chosen]:
        """Start one utterance (its prefill runs now): a handle, and the codes its first pass kept."""

    def step(self) -> list[tuple[Any, Chosen]]:
        """One forward pass for every utterance in the batch: each handle with the codes it kept."""

    def finished(self, handle: Any) -> bool:
        """Whether the utterance has stopped (it has left the batch), by its stop rules or stopped early by
        the batch (then `result` raises why)."""

    def result(self, handle: Any) -> SemanticResult:
        """A finished utterance's result, as `generate` returns it; raises what stopped it early, if anything."""

    def remove(self, handle: Any) -> None:
        """Drop an utterance before it finishes (cancelled or abandoned)."""

    def __len__(self) -> int:
        """Utterances decoding now."""


@runtime_checkable
class AcousticModel(WarmsUp, Protocol):
    """Semantic codes + phonemes + a voice's timbre -> waveform (SoVITS), whole or window by window, and
    the per-voice analysis that gives the timbre and the prompt codes."""

    version: str  # the loaded model's version (`GPT_SoVITS.versions`)
    symbols_version: str  # the symbol set its phonemes use
    sampling_rate: int  # of its output and of the clip audio `reference_spectrogram` returns

    @property
    def frames_per_code(self) -> int:
        """Latent frames per semantic code."""

    @property
    def samples_per_frame(self) -> int:
        """Output samples per latent frame (at speed 1)."""

    def reference_spectrogram(self, path: str) -> tuple[np.ndarray, np.ndarray]:
        """(spectrogram, audio at `sampling_rate`) of a reference clip."""

    def prompt_codes(self, ssl_content: Any) -> np.ndarray:
        """The SSL model's `content` of a clip -> its semantic codes, int64 [T]."""

    def reference_timbre(self, spectrogram: np.ndarray, speaker_embedding: np.ndarray | None) -> np.ndarray:
        """The timbre of one clip (Pro versions also take its speaker embedding)."""

    def voice_timbre(self, timbres: Sequence[np.ndarray]) -> Timbre:
        """The timbre of a voice from its clips' `reference_timbre`s."""

    def decode(self, codes: np.ndarray, phones: np.ndarray, timbre: Timbre, noise_scale: float = 0.5,
               speed: float = 1.0, seed: int | None = None) -> np.ndarray:
        """codes [T] + phones [N] -> float32 waveform [samples] at `sampling_rate`."""

    def frame_encoder(self, phones: np.ndarray, timbre: Timbre) -> Callable[[np.ndarray], Frames]:
        """For streaming windows of one segment: a function from all its codes so far [T] to latent
        frames. What depends on the phones [N] alone is done once, here."""

    def join_frames(self, window: Frames, previous: Frames) -> Frames:
        """`window` with its first frames blended into `previous` (the same frames as the last window
        saw them): previous fades out, window fades in."""

    def synthesize_frames(self, frames: Frames, timbre: Timbre, noise_scale: float, speed: float,
                          rng: np.random.Generator) -> np.ndarray:
        """Latent frames (all of a segment, or a streaming window) -> float32 waveform [samples]."""


@runtime_checkable
class TextFeatureModel(WarmsUp, Protocol):
    """Text features per phoneme (BERT) of the languages it reads; zeros of the same width for others."""

    @property
    def max_tokens(self) -> int:
        """The most positions one text may take."""

    def reads(self, language: str) -> bool:
        """Whether text of this language gets this model's features."""

    def token_count(self, text: str) -> int:
        """The positions `text` takes."""

    def features(self, language: str, norm_text: str, word2ph: list[int] | None, n_phones: int) -> np.ndarray:
        """float32 [dim, n_phones]; `TextTooLongError` past `max_tokens`."""


@runtime_checkable
class SSLModel(WarmsUp, Protocol):
    """Self-supervised speech features (HuBERT) of a 16 kHz clip, for the acoustic model's prompt codes."""

    def content(self, wav16k: np.ndarray) -> Any:
        """[1, dim, frames] features of the clip (padding included, as the caller gives it)."""


@runtime_checkable
class SpeakerModel(WarmsUp, Protocol):
    """A clip's speaker embedding (the Pro versions' speaker verifier)."""

    def embedding(self, wav: np.ndarray, sample_rate: int) -> np.ndarray:
        """float32 [dim] of a mono clip at `sample_rate`."""
