"""The acoustic back end (`models.backends.AcousticModel`): `SoVITS`, and `load_sovits(path)` that builds it
from a SoVITS `.pth` (any supported version of `GPT_SoVITS.versions`) around a ready `SynthesizerTrn`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import mindspore as ms
from mindspore import ops

from GPT_SoVITS.audio.spectrogram import reference_spectrogram

from ... import versions
from ..backends import WarmUpStage
from .config import SoVITSConfig, _get
from .synthesizer import SynthesizerTrn, mean_timbre
from .weight_norm import fold_weight_norm

TEXT_EMBEDDING_KEY = "enc_p.text_embedding.weight"


@dataclass
class SoVITS:
    hps: Any
    version: str  # model version (`GPT_SoVITS.versions`)
    symbols_version: str  # v1 or v2: which phone table the text frontend must use
    sampling_rate: int
    hop_length: int
    model: SynthesizerTrn

    @property
    def is_pro(self) -> bool:
        return versions.is_pro(self.version)

    @property
    def frames_per_code(self) -> int:
        return self.model.cfg.frames_per_code

    @property
    def samples_per_frame(self) -> int:
        return self.model.cfg.samples_per_frame

    # -- a voice's reference clips ------------------------------------------------------------------
    def reference_spectrogram(self, path: str | Path) -> tuple[np.ndarray, np.ndarray]:
        """(spec [F, T], audio at the model's rate) of a reference clip, as `get_spepc`."""
        return reference_spectrogram(path, self.hps)

    def prompt_codes(self, ssl_content: Any) -> np.ndarray:
        """HuBERT features [1, 768, T] -> the clip's semantic codes [T // 2] (int64)."""
        return self.model.extract_latent(ssl_content).asnumpy()[0, 0].astype(np.int64)

    def reference_timbre(self, spectrogram: np.ndarray, speaker_embedding: np.ndarray | None) -> np.ndarray:
        """`ge` [1, gin, 1] of one clip (Pro versions add its speaker-verification embedding)."""
        return self.model.reference_embedding(spectrogram, speaker_embedding).asnumpy()

    def voice_timbre(self, timbres: Sequence[np.ndarray]) -> ms.Tensor:
        """The reference's mean `ge` over a voice's clips."""
        return mean_timbre(timbres)

    # -- synthesis ---------------------------------------------------------------------------------
    def decode(self, codes: np.ndarray, phones: np.ndarray, timbre: ms.Tensor, noise_scale: float = 0.5,
               speed: float = 1.0, seed: int | None = None) -> np.ndarray:
        """codes [T] + phones [N] -> waveform float32 [samples]; see `SynthesizerTrn.decode_with_timbre`."""
        audio = self.model.decode_with_timbre(codes[None, None], phones[None], timbre, noise_scale=noise_scale,
                                              speed=speed, seed=seed)
        return audio.asnumpy().astype(np.float32).reshape(-1)

    def frame_encoder(self, phones: np.ndarray, timbre: ms.Tensor) -> Callable[[np.ndarray], ms.Tensor]:
        """The segment's phones [N] encoded now; the function takes all codes so far [T] to the text
        encoder's frames [1, hidden, frames_per_code * T]."""
        encoded = self.model.encode_phones(phones[None])
        return lambda codes: self.model.encode_codes(codes[None, None], encoded, timbre)

    def join_frames(self, window: ms.Tensor, previous: ms.Tensor) -> ms.Tensor:
        return crossfade_frames(window, previous)

    def synthesize_frames(self, frames: ms.Tensor, timbre: ms.Tensor, noise_scale: float, speed: float,
                          rng: np.random.Generator) -> np.ndarray:
        """Encoded frames (a segment's, or a streaming window) -> waveform float32 [samples]."""
        audio = self.model.synthesize_frames(frames, timbre, noise_scale, speed, rng)
        return audio.asnumpy().astype(np.float32).reshape(-1)

    def warm_up_stages(self, *, background: bool) -> list[WarmUpStage]:
        """The generator's graphs, one stage each, in the background (it runs op by op until then)."""
        return self.model.warm_up_stages() if background else []


def crossfade_frames(window: ms.Tensor, previous: ms.Tensor) -> ms.Tensor:
    """The first frames of `window` [1, C, T] blended into `previous` [1, C, n] (the same frames as the
    last window saw them): previous fades out, window fades in, along a half sine period."""
    n = previous.shape[-1]
    ramp = np.sin(np.arange(2 * n) * np.pi / (2 * n)).astype(np.float32)
    head = window[:, :, :n] * ms.Tensor(ramp[:n]) + previous * ms.Tensor(ramp[n:])
    return ops.concat([head, window[:, :, n:]], axis=2)


def prepare_state(state: dict[str, Any]) -> dict[str, np.ndarray]:
    """float32 arrays (the fp16 values upcast), weight norm folded."""
    return fold_weight_norm({k: np.asarray(v, dtype=np.float32) for k, v in state.items()}, dim=0)


def build_sovits(hps: Any, state: dict[str, Any], version: str, symbols: str, source: str = "sovits") -> SoVITS:
    """The model of a checkpoint read by `weights.load_sovits_checkpoint` (its state without `enc_q`, which
    inference does not build), whose `version` and `symbols` that reader detected."""
    from GPT_SoVITS.weights import load_into

    model = SynthesizerTrn(SoVITSConfig.from_hps(hps, version, int(np.shape(state[TEXT_EMBEDDING_KEY])[0])))
    load_into(model, prepare_state(state), source=source)
    model.set_train(False)
    data = _get(hps, "data")
    return SoVITS(hps, version, symbols, int(_get(data, "sampling_rate")), int(_get(data, "hop_length")), model)


def load_sovits(path: str | Path) -> SoVITS:
    """Read a SoVITS checkpoint (PK or Pro-header zip) without PyTorch and build the model it describes."""
    from GPT_SoVITS.weights import load_sovits_checkpoint

    ckpt = load_sovits_checkpoint(path)
    return build_sovits(ckpt.hps, ckpt.state, ckpt.version.model, ckpt.version.symbols, source=str(path))
