"""Band-limited resampling exactly as `torchaudio.transforms.Resample` does it, in numpy.

The speaker-verification path of v2Pro/v2ProPlus (`get_spepc(..., is_v2pro=True)`) turns the 32 kHz reference
clip into 16 kHz with torchaudio's default windowed-sinc resampler before the Kaldi filterbank. The embedding is
sensitive to the exact filter (soxr's differs by ~1e-2 and moves the embedding by ~0.25), so this module rebuilds
the same polyphase kernel: Hann-windowed sinc, 6 zero crossings, cut-off at 0.99 of the lower Nyquist frequency,
built in float64 and rounded to float32 as the transform's buffer is.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

LOWPASS_FILTER_WIDTH = 6  # zero crossings of the sinc on each side
ROLLOFF = 0.99  # cut-off as a fraction of the lower rate's Nyquist frequency


@lru_cache(maxsize=16)
def sinc_kernel(orig_freq: int, new_freq: int) -> tuple[np.ndarray, int]:
    """Polyphase kernel `[new, taps]` (float32) and the padding `width` for rates already divided by their gcd.

    Row `p` holds the filter of output phase `p`; tap `k` sits at input offset `k - width` from the phase's
    first input sample.
    """
    base_freq = min(orig_freq, new_freq) * ROLLOFF
    width = math.ceil(LOWPASS_FILTER_WIDTH * orig_freq / base_freq)
    idx = np.arange(-width, width + orig_freq, dtype=np.float64) / orig_freq
    # torchaudio forms the phase offsets in float32 before adding them to the float64 tap positions.
    phase = (np.arange(0, -new_freq, -1, dtype=np.float32) / np.float32(new_freq)).astype(np.float64)
    t = (phase[:, None] + idx[None, :]) * base_freq
    t = np.clip(t, -LOWPASS_FILTER_WIDTH, LOWPASS_FILTER_WIDTH)
    window = np.cos(t * math.pi / LOWPASS_FILTER_WIDTH / 2) ** 2
    t = t * math.pi
    with np.errstate(invalid="ignore", divide="ignore"):
        sinc = np.where(t == 0, 1.0, np.sin(t) / t)
    kernel = sinc * window * (base_freq / orig_freq)
    return kernel.astype(np.float32), width


def resample(wav: np.ndarray, orig_freq: int, new_freq: int) -> np.ndarray:
    """Resample along the last axis; float32 out, `ceil(n * new / orig)` samples, as torchaudio."""
    wav = np.asarray(wav, dtype=np.float32)
    if orig_freq == new_freq:
        return wav.copy()
    if orig_freq <= 0 or new_freq <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_freq} -> {new_freq}")
    gcd = math.gcd(int(orig_freq), int(new_freq))
    orig, new = int(orig_freq) // gcd, int(new_freq) // gcd
    kernel, width = sinc_kernel(orig, new)

    lead = wav.shape[:-1]
    flat = wav.reshape(-1, wav.shape[-1])
    length = flat.shape[-1]
    padded = np.pad(flat, ((0, 0), (width, width + orig)))
    # Input windows start every `orig` samples; each yields `new` outputs, one per kernel phase.
    frames = sliding_window_view(padded, kernel.shape[1], axis=-1)[:, ::orig]
    out = frames.astype(np.float64) @ kernel.T.astype(np.float64)  # [batch, windows, new]
    out = out.reshape(flat.shape[0], -1)[:, : math.ceil(new * length / orig)]
    return out.astype(np.float32).reshape(*lead, -1)
