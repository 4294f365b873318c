"""The reference's `SV` (`sv.py`): a reference clip -> its ERes2NetV2 speaker embedding, as v2Pro needs it.

`get_tts_wav` computes, per reference clip, `compute_embedding3(Resample(32000, 16000)(audio32k))`: torchaudio's
sinc resampler, Kaldi fbank (80 bins, 16 kHz, no dither), then `forward3`. The caller passes the clip as the
pipeline already holds it (the 32 kHz audio the reference spectrogram is taken from, after its peak
normalisation) or any 16 kHz audio.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
from mindspore import Tensor

from ...audio.fbank import fbank
from ...audio.sv_resample import resample
from ..backends import WarmUpStage
from .eres2net import ERes2NetV2, ERes2NetV2Dims

SAMPLE_RATE = 16000  # the fbank and the network run at 16 kHz
# In the file (the reference builds its pooling head and loads strictly) but not used by forward3.
UNUSED_KEYS = ("seg_1.weight", "seg_1.bias")


def drop_unused_head(state: Mapping[str, np.ndarray], dims: ERes2NetV2Dims) -> dict[str, np.ndarray]:
    """The state without `seg_1`, after checking it is there with the shape the trunk implies."""
    missing = [k for k in UNUSED_KEYS if k not in state]
    if missing:
        raise ValueError(f"not an ERes2NetV2 checkpoint: missing {', '.join(missing)}")
    expected = (dims.embedding_size, 2 * dims.embedding_dim)  # seg_1 sees mean and std of the fuse34 map
    if tuple(state["seg_1.weight"].shape) != expected:
        raise ValueError(f"seg_1.weight has shape {tuple(state['seg_1.weight'].shape)}, expected {expected}")
    return {k: v for k, v in state.items() if k not in UNUSED_KEYS}


class SpeakerVerifier:
    """ERes2NetV2 with its front end; `embedding` is the reference's `compute_embedding3` for one clip."""

    def __init__(self, net: ERes2NetV2):
        self.net = net
        self.net.set_train(False)

    @classmethod
    def load(cls, path: str | Path) -> "SpeakerVerifier":
        """Build the network from the checkpoint's shapes and load it strictly (e.g. the released
        `pretrained_eres2netv2w24s4ep4.ckpt`; float16 in the file, float32 here)."""
        from ...weights import load_into, load_speaker_verifier_checkpoint

        state = load_speaker_verifier_checkpoint(path)
        dims = ERes2NetV2Dims.from_state_dict(state)
        net = ERes2NetV2(dims)
        load_into(net, drop_unused_head(state, dims), source=str(path))
        return cls(net)

    @property
    def dims(self) -> ERes2NetV2Dims:
        return self.net.dims

    def features(self, wav: np.ndarray, sample_rate: int) -> np.ndarray:
        """Kaldi fbank `[T, feat_dim]` of a mono clip, resampled to 16 kHz first if needed."""
        wav16k = resample(np.asarray(wav, dtype=np.float32), sample_rate, SAMPLE_RATE)
        return fbank(wav16k, num_mel_bins=self.dims.feat_dim, sample_frequency=SAMPLE_RATE)

    def embedding(self, wav: np.ndarray, sample_rate: int = 32000) -> np.ndarray:
        """Speaker embedding `[embedding_dim]` (20480 for the released model) of a mono clip."""
        return self.embedding_from_features(self.features(wav, sample_rate))

    def warm_up_stages(self, *, background: bool) -> list[WarmUpStage]:
        return []  # runs op by op; its first call is part of the pipeline's reference stage

    def embedding_from_features(self, feat: np.ndarray) -> np.ndarray:
        return self.net(Tensor(feat[None].astype(np.float32))).asnumpy()[0]

    def stage_means(self, feat: np.ndarray) -> dict[str, np.ndarray]:
        """Time-mean `[C, F]` of every stage output for fbank `feat [T, feat_dim]` (for parity checks)."""
        stages = self.net.stages(Tensor(feat[None].astype(np.float32)))
        return {name: out.mean(-1).asnumpy()[0] for name, out in stages.items()}
