"""The log-mel spectrogram of SoVITS training (the reference's module/mel_processing.py).

`spec_to_mel`: mel filterbank (librosa's Slaney mel basis) x a linear magnitude spectrogram, then
log(max(x, 1e-5)). `MelSpectrogram`: the same from a waveform, differentiable (the generator's output
goes through it into the mel loss): reflect-pad (n_fft - hop) / 2 on both sides, frames every hop
without centring, a periodic Hann window, the one-sided DFT as two matrix products with a fixed
cosine / sine basis (float32, as torch.stft is), magnitude sqrt(re^2 + im^2 + 1e-8).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from .spectrogram import MAGNITUDE_EPS, hann_window

LOG_CLIP = 1e-5  # dynamic_range_compression_torch's clip_val


@lru_cache(maxsize=8)
def mel_basis(sampling_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    """librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax) (Slaney scale and norm), float32 [n_mels, F]."""
    import librosa  # a dependency already (the reference clips' resampling); imported when training needs it

    return librosa.filters.mel(sr=sampling_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).astype(np.float32)


def log_compress(x: ms.Tensor) -> ms.Tensor:
    return ops.log(ops.clamp(x, min=LOG_CLIP))


def spec_to_mel(spec: ms.Tensor, basis: ms.Tensor) -> ms.Tensor:
    """[B, F, T] magnitudes -> [B, n_mels, T] log-mel."""
    return log_compress(ops.matmul(basis, spec))


class MelSpectrogram(nn.Cell):
    """Waveform [B, N] -> log-mel [B, n_mels, frames], frames = 1 + (N + 2p - n_fft) // hop."""

    def __init__(self, sampling_rate: int, n_fft: int, n_mels: int, hop: int, win: int, fmin: float,
                 fmax: float | None):
        super().__init__()
        self.n_fft, self.hop, self.pad = n_fft, hop, (n_fft - hop) // 2
        window = hann_window(win)
        if win < n_fft:  # torch.stft centres a shorter window in the frame
            left = (n_fft - win) // 2
            window = np.pad(window, (left, n_fft - win - left))
        k = np.arange(n_fft // 2 + 1)
        angle = 2.0 * np.pi * np.outer(np.arange(n_fft), k) / n_fft  # [n_fft, F]
        self.cos_basis = ms.Tensor((window[:, None] * np.cos(angle)).astype(np.float32))
        self.sin_basis = ms.Tensor((window[:, None] * np.sin(angle)).astype(np.float32))
        self.basis = ms.Tensor(mel_basis(sampling_rate, n_fft, n_mels, fmin, fmax))

    def _reflect(self, y: ms.Tensor) -> ms.Tensor:
        p, n = self.pad, y.shape[-1]
        left = ops.flip(y[:, 1:p + 1], (-1,))
        right = ops.flip(y[:, n - 1 - p:n - 1], (-1,))
        return ops.concat([left, y, right], -1)

    def magnitude(self, y: ms.Tensor) -> ms.Tensor:
        """[B, N] -> [B, F, frames] linear magnitudes."""
        y = self._reflect(y)
        n_frames = 1 + (y.shape[-1] - self.n_fft) // self.hop
        index = ms.Tensor(np.arange(n_frames)[:, None] * self.hop + np.arange(self.n_fft)[None, :], ms.int32)
        frames = ops.gather(y, index, 1)  # [B, frames, n_fft]
        re, im = ops.matmul(frames, self.cos_basis), ops.matmul(frames, self.sin_basis)
        return ops.sqrt(re * re + im * im + MAGNITUDE_EPS).transpose(0, 2, 1)

    def construct(self, y: ms.Tensor) -> ms.Tensor:
        return spec_to_mel(self.magnitude(y), self.basis)
