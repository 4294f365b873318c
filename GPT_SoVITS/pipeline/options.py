"""What one synthesis is asked to do, as the pipeline's own values, with the reference's defaults
(inference_webui.get_tts_wav): callers (the service's routes, the command line) decode their own
inputs into these once; the pipeline reads nothing else."""
from __future__ import annotations

from dataclasses import dataclass, field

from GPT_SoVITS.models.backends import SamplingOptions


@dataclass(frozen=True)
class ChunkPlan:
    """Chunked streaming inside a segment (the reference api_v2's streaming_mode 2 and 3, see chunked.py):
    audio every few semantic codes while the GPT decodes; sooner than whole segments, approximately."""

    at_pauses: bool  # True: cut at silence-like codes (mode 2); False: fixed-length chunks (mode 3)
    min_codes: int = 16  # the reference's min_chunk_length
    overlap_codes: int = 2  # the reference's overlap_length: codes each chunk re-voices to join the last

    def __post_init__(self):
        # Every chunk but the last has min_codes codes, so a window always has the overlap to give.
        if not 1 <= self.overlap_codes < self.min_codes:
            raise ValueError(f"the overlap must be at least 1 code and shorter than a chunk "
                             f"({self.overlap_codes} vs {self.min_codes})")


@dataclass
class SynthesisOptions:
    ref_wav_path: str
    text: str
    prompt_text: str = ""
    prompt_language: str = "all_zh"  # a code or a Chinese label, see GPT_SoVITS.text.languages
    text_language: str = "all_zh"
    how_to_cut: str = "cut1"  # cut0..cut5 or the reference's Chinese labels
    sampling: SamplingOptions = field(default_factory=SamplingOptions)  # how the GPT picks its codes
    speed: float = 1.0
    noise_scale: float = 0.5
    seed: int | None = None  # None: a fresh random seed per call
    ref_free: bool = False  # reference-free mode: no prompt text, no prompt codes
    pause_second: float = 0.3  # silence after every segment
    extra_ref_wav_paths: list[str] = field(default_factory=list)  # more clips for the timbre (averaged)
    chunks: ChunkPlan | None = None  # None: each segment whole, exactly (the reference's streaming_mode 0/1)
    # Segments of this text decoding at once in the shared batch (api_v2's batch_size with parallel_infer);
    # None: the synthesizer's `Batching.segments_ahead`; 1: one after another. No effect without batching.
    parallel_segments: int | None = None
    # The voice's own GPT and/or SoVITS files (a fine-tuned voice); None: the default pair. A `Synthesizer`
    # always voices with its own models: a caller holding several (the service's engine) picks by this.
    weights: "VoiceWeights | None" = None


@dataclass(frozen=True)
class VoiceWeights:
    """A voice's own weight files; a None file is the default pair's."""

    gpt: str | None = None  # s1 GPT checkpoint (.ckpt)
    sovits: str | None = None  # s2 SoVITS generator (.pth)


@dataclass(frozen=True)
class Batching:
    """How syntheses share the GPT (`scheduler.py`): segments of every request decode together in one
    continuous batch of at most `max(batch_sizes)` sequences. A synthesizer without one decodes one
    segment at a time, each alone."""

    batch_sizes: tuple[int, ...] = (1, 2, 4, 8)  # the batch graphs; a batch runs in the smallest that holds it
    segments_ahead: int = 4  # a request's segments decoding at once unless it asks (`parallel_segments`)

    def __post_init__(self):
        if not self.batch_sizes or min(self.batch_sizes) < 1:
            raise ValueError(f"batch sizes must be positive, got {self.batch_sizes}")
        if self.segments_ahead < 1:
            raise ValueError(f"segments_ahead must be at least 1, got {self.segments_ahead}")


@dataclass(frozen=True)
class ModelPaths:
    """Where the weights are: the user's PyTorch files (or the original port's MindSpore .ckpt files)."""

    gpt: str  # s1 GPT checkpoint (.ckpt)
    sovits: str  # s2 SoVITS generator (.pth)
    hubert: str  # chinese-hubert-base Hugging Face folder
    bert: str  # chinese-roberta-wwm-ext-large Hugging Face folder
    speaker_verifier: str | None = None  # sv/pretrained_eres2netv2w24s4ep4.ckpt, needed by v2Pro/v2ProPlus
