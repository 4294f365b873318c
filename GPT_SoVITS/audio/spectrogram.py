"""The linear magnitude spectrogram SoVITS's reference encoder reads (`get_spepc` / `spectrogram_torch`).

Peak rule: divide by min(2, peak) only when the peak exceeds 1. Then reflect-pad (n_fft - hop) / 2 on both
sides, frames every `hop` without centring, a periodic Hann window (torch.hann_window), one-sided FFT, and
magnitude sqrt(re^2 + im^2 + 1e-8). Computed in float64 and returned as float32 [n_fft // 2 + 1, frames],
within the reference's own float32 noise (~1e-5 on values up to ~80).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .io import load_mono

MAGNITUDE_EPS = 1e-8


def normalize_peak(audio: np.ndarray) -> np.ndarray:
    """The reference's clip guard: only louder-than-full-scale audio is scaled, and by at most 1/2."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    return audio / np.float32(min(2.0, peak)) if peak > 1 else audio


def hann_window(size: int) -> np.ndarray:
    """torch.hann_window(size) (periodic=True): 0.5 - 0.5 cos(2 pi n / size)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(size) / size)


def linear_spectrogram(audio: np.ndarray, n_fft: int, hop_length: int, win_length: int) -> np.ndarray:
    """[N] float audio -> [n_fft // 2 + 1, frames] float32 magnitudes, frames = 1 + (N + 2p - n_fft) // hop."""
    pad = (n_fft - hop_length) // 2
    x = np.pad(np.asarray(audio, dtype=np.float64), (pad, pad), mode="reflect")
    window = hann_window(win_length)
    if win_length < n_fft:  # torch.stft centres a shorter window inside the FFT frame
        left = (n_fft - win_length) // 2
        window = np.pad(window, (left, n_fft - win_length - left))
    frames = sliding_window_view(x, n_fft)[::hop_length]
    spectrum = np.fft.rfft(frames * window, axis=-1)
    magnitude = np.sqrt(spectrum.real ** 2 + spectrum.imag ** 2 + MAGNITUDE_EPS)
    return magnitude.T.astype(np.float32)


def _data_field(hps: Any, name: str) -> int:
    data = hps["data"] if isinstance(hps, dict) else hps.data
    return int(data[name] if isinstance(data, dict) else getattr(data, name))


def reference_spectrogram(path: str | Path, hps: Any) -> tuple[np.ndarray, np.ndarray]:
    """(spec [F, T], audio [N] at the model's rate) of a reference clip, as `get_spepc` computes them."""
    audio = normalize_peak(load_mono(path, _data_field(hps, "sampling_rate")))
    spec = linear_spectrogram(audio, _data_field(hps, "filter_length"), _data_field(hps, "hop_length"),
                              _data_field(hps, "win_length"))
    return spec, audio
