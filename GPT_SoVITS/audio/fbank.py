"""Kaldi-compatible log mel filterbank, as the reference's `eres2net/kaldi.py` `fbank` computes it.

The speaker-verification model of v2Pro/v2ProPlus was trained on these features, called as
`fbank(wav, num_mel_bins=80, sample_frequency=16000, dither=0)` with every other option at Kaldi's default:
25 ms frames every 10 ms, only frames that fit entirely (`snip_edges`), per-frame DC removal, pre-emphasis 0.97,
Povey window, zero padding to the next power of two, power spectrum, triangular filters on Kaldi's mel scale
from 20 Hz to Nyquist (the Nyquist bin gets weight 0), natural log floored at float32's epsilon. No energy
column, no mean normalisation; the waveform is taken as it is (in [-1, 1], not int16 scale).

Computed in float64 (the reference runs in float32; the difference stays well inside the golden tolerance).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FRAME_LENGTH_MS = 25.0
FRAME_SHIFT_MS = 10.0
PREEMPHASIS = 0.97
LOW_FREQ = 20.0
POVEY_POWER = 0.85  # the Povey window is a Hann window raised to this power (zero at both ends)
LOG_FLOOR = float(np.finfo(np.float32).eps)  # Kaldi floors energies at numeric_limits<float>::epsilon()


def mel_scale(freq: np.ndarray | float) -> np.ndarray:
    """Kaldi's mel scale (natural log, 1127 / 700)."""
    return 1127.0 * np.log(1.0 + np.asarray(freq, dtype=np.float64) / 700.0)


def frame_sizes(sample_frequency: float) -> tuple[int, int, int]:
    """(window length, shift, FFT length) in samples, truncated to integers as Kaldi does."""
    window = int(sample_frequency * FRAME_LENGTH_MS / 1000.0)
    shift = int(sample_frequency * FRAME_SHIFT_MS / 1000.0)
    fft_length = 1 << (window - 1).bit_length()
    return window, shift, fft_length


def num_frames(num_samples: int, sample_frequency: float = 16000.0) -> int:
    """Frames that fit entirely in the signal (`snip_edges`): 0 when it is shorter than one window."""
    window, shift, _ = frame_sizes(sample_frequency)
    return 0 if num_samples < window else 1 + (num_samples - window) // shift


@lru_cache(maxsize=8)
def povey_window(length: int) -> np.ndarray:
    n = np.arange(length, dtype=np.float64)
    hann = 0.5 - 0.5 * np.cos(2.0 * math.pi * n / (length - 1))  # symmetric Hann (periodic=False)
    return hann**POVEY_POWER


@lru_cache(maxsize=8)
def mel_banks(num_bins: int, fft_length: int, sample_frequency: float) -> np.ndarray:
    """Triangular filters `[num_bins, fft_length // 2 + 1]`; the last (Nyquist) column is zero."""
    if num_bins <= 3:
        raise ValueError("Kaldi needs at least 4 mel bins")
    high_freq = 0.5 * sample_frequency
    mel_low, mel_high = mel_scale(LOW_FREQ), mel_scale(high_freq)
    # num_bins + 1 steps: the outer filters spread half a step beyond their centres.
    delta = (mel_high - mel_low) / (num_bins + 1)
    edges = mel_low + delta * np.arange(num_bins + 2, dtype=np.float64)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    mel = mel_scale(sample_frequency / fft_length * np.arange(fft_length // 2, dtype=np.float64))[None, :]
    up = (mel - left) / (centre - left)
    down = (right - mel) / (right - centre)
    banks = np.maximum(0.0, np.minimum(up, down))
    return np.pad(banks, ((0, 0), (0, 1)))


def fbank(wav: np.ndarray, num_mel_bins: int = 80, sample_frequency: float = 16000.0) -> np.ndarray:
    """Log mel energies `[frames, num_mel_bins]` (float32) of a mono waveform `[N]` (dither 0)."""
    wav = np.asarray(wav, dtype=np.float64)
    if wav.ndim != 1:
        raise ValueError(f"fbank takes one mono waveform [N], got shape {wav.shape}")
    window, shift, fft_length = frame_sizes(sample_frequency)
    if num_frames(len(wav), sample_frequency) == 0:
        raise ValueError(f"audio too short for one {FRAME_LENGTH_MS:g} ms frame: {len(wav)} samples")
    frames = sliding_window_view(wav, window)[::shift]
    frames = frames - frames.mean(axis=1, keepdims=True)
    # Pre-emphasis inside each frame; the first sample is paired with itself (x[-1] = x[0]).
    previous = np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
    frames = (frames - PREEMPHASIS * previous) * povey_window(window)
    power = np.abs(np.fft.rfft(frames, n=fft_length, axis=1)) ** 2
    energies = power @ mel_banks(num_mel_bins, fft_length, float(sample_frequency)).T
    return np.log(np.maximum(energies, LOG_FLOOR)).astype(np.float32)
