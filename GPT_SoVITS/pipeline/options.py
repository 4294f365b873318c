"""What one synthesis is asked to do, with the reference's defaults (inference_webui.get_tts_wav)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SynthesisOptions:
    ref_wav_path: str
    text: str
    prompt_text: str = ""
    prompt_language: str = "all_zh"  # a code or a Chinese label, see GPT_SoVITS.text.languages
    text_language: str = "all_zh"
    how_to_cut: str = "cut1"  # cut0..cut5 or the reference's Chinese labels
    top_k: int = 20
    top_p: float = 0.6
    temperature: float = 0.6
    repetition_penalty: float = 1.35
    speed: float = 1.0
    noise_scale: float = 0.5
    seed: int | None = None  # None: a fresh random seed per call
    ref_free: bool = False  # reference-free mode: no prompt text, no prompt codes
    pause_second: float = 0.3  # silence after every segment
    extra_ref_wav_paths: list[str] = field(default_factory=list)  # more clips for the timbre (averaged)
    # The reference api_v2's streaming_mode: 0 or 1, a segment at a time (exact); 2, chunks cut at
    # pauses; 3, fixed-length chunks. 2 and 3 give first audio sooner, approximately (see chunked.py).
    streaming_mode: int = 0
    min_chunk_length: int = 16  # semantic codes per chunk (modes 2 and 3)
    overlap_length: int = 2  # codes each chunk re-voices to join the previous one

    @property
    def chunked(self) -> bool:
        return self.streaming_mode in CHUNKED_MODES


CHUNKED_MODES = (2, 3)


@dataclass(frozen=True)
class ModelPaths:
    """Where the weights are: the user's PyTorch files (or the original port's MindSpore .ckpt files)."""

    gpt: str  # s1 GPT checkpoint (.ckpt)
    sovits: str  # s2 SoVITS generator (.pth)
    hubert: str  # chinese-hubert-base Hugging Face folder
    bert: str  # chinese-roberta-wwm-ext-large Hugging Face folder
    speaker_verifier: str | None = None  # sv/pretrained_eres2netv2w24s4ep4.ckpt, needed by v2Pro/v2ProPlus
