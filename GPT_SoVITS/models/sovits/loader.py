"""Loading a SoVITS `.pth` (any of v1, v2, v2Pro, v2ProPlus) into a ready `SynthesizerTrn`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from GPT_SoVITS.audio.spectrogram import reference_spectrogram

from ... import versions
from .config import SoVITSConfig, _get
from .synthesizer import SynthesizerTrn
from .weight_norm import fold_weight_norm

TEXT_EMBEDDING_KEY = "enc_p.text_embedding.weight"


@dataclass
class SoVITS:
    hps: Any
    version: str  # model version: v1, v2, v2Pro, v2ProPlus
    symbols_version: str  # v1 or v2: which phone table the text frontend must use
    sampling_rate: int
    hop_length: int
    model: SynthesizerTrn

    @property
    def is_pro(self) -> bool:
        return versions.is_pro(self.version)

    def reference_spectrogram(self, path: str | Path) -> tuple[np.ndarray, np.ndarray]:
        """(spec [F, T], audio at the model's rate) of a reference clip, as `get_spepc`."""
        return reference_spectrogram(path, self.hps)

    def extract_latent(self, ssl_content: np.ndarray) -> np.ndarray:
        """HuBERT features [1, 768, T] -> prompt codes [1, 1, T // 2] (int64)."""
        return self.model.extract_latent(ssl_content).asnumpy().astype(np.int64)

    def decode(self, codes: np.ndarray, phones: np.ndarray, refer_specs: Sequence[np.ndarray],
               noise_scale: float = 0.5, speed: float = 1.0, seed: int | None = None,
               sv_emb: Sequence[np.ndarray] | None = None) -> np.ndarray:
        """Waveform [N] float32 at `sampling_rate`; see `SynthesizerTrn.decode`."""
        audio = self.model.decode(codes, phones, refer_specs, noise_scale, speed, seed, sv_emb)
        return audio.asnumpy()[0, 0]


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
