"""Loading a SoVITS `.pth` (any of v1, v2, v2Pro, v2ProPlus) into a ready `SynthesizerTrn`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from GPT_SoVITS.audio.spectrogram import reference_spectrogram

from .config import PRO_VERSIONS, SoVITSConfig, _get
from .synthesizer import SynthesizerTrn
from .weight_norm import fold_weight_norm

V1_SYMBOL_ROWS = 322  # len(symbols v1); the reference picks the symbol set from this shape
TEXT_EMBEDDING_KEY = "enc_p.text_embedding.weight"
TRAINING_ONLY_PREFIXES = ("enc_q.",)  # the posterior encoder, deleted by the webui before loading


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
        return self.version in PRO_VERSIONS

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


def model_version(header_version: str | None, text_embedding_rows: int) -> tuple[str, str]:
    """(model version, symbols version) as change_sovits_weights decides them: the text embedding's rows
    pick v1 or v2, and a Pro header (05 / 06) upgrades a v2 model to v2Pro / v2ProPlus."""
    symbols = "v1" if text_embedding_rows == V1_SYMBOL_ROWS else "v2"
    if header_version in PRO_VERSIONS:
        return header_version, symbols
    return symbols, symbols


def prepare_state(state: dict[str, Any]) -> dict[str, np.ndarray]:
    """float32 arrays (the fp16 values upcast), weight norm folded, training-only tensors dropped."""
    kept = {k: np.asarray(v, dtype=np.float32) for k, v in state.items()
            if not k.startswith(TRAINING_ONLY_PREFIXES)}
    return fold_weight_norm(kept, dim=0)


def build_sovits(hps: Any, state: dict[str, Any], header_version: str | None = None,
                 source: str = "sovits") -> SoVITS:
    from GPT_SoVITS.weights import load_into

    rows = int(np.shape(state[TEXT_EMBEDDING_KEY])[0])
    version, symbols = model_version(header_version, rows)
    model = SynthesizerTrn(SoVITSConfig.from_hps(hps, version, rows))
    load_into(model, prepare_state(state), source=source)
    model.set_train(False)
    data = _get(hps, "data")
    return SoVITS(hps, version, symbols, int(_get(data, "sampling_rate")), int(_get(data, "hop_length")), model)


def load_sovits(path: str | Path) -> SoVITS:
    """Read a SoVITS checkpoint (PK or Pro-header zip) without PyTorch and build the model it describes."""
    from GPT_SoVITS.weights import load_sovits_checkpoint

    ckpt = load_sovits_checkpoint(path)
    detected = getattr(ckpt.version, "model", ckpt.version)  # a SovitsVersion (symbols, model) or a name
    return build_sovits(ckpt.hps, ckpt.state, detected, source=str(path))
