"""Reading reference clips the way the reference reads them.

`torchaudio.load` (the spectrogram and speaker-verification path) gives int16 samples / 32768 as float32,
channels first; `librosa.load(path, sr=16000)` (the HuBERT path) mixes to mono and resamples with soxr_hq.

Clips are read with libsndfile only. Given a path it cannot read, librosa would hand it to audioread,
i.e. to ffmpeg with any demuxer: an HLS playlist or concat script posing as a clip would then make it
read the files it names. So librosa is given a file libsndfile has already opened, and a file that
is not a libsndfile format (WAV, FLAC, OGG, MP3, AIFF, ...) fails here instead.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

HUBERT_RATE = 16000


def load_pcm(path: str | Path) -> tuple[np.ndarray, int]:
    """Samples [channels, N] float32 in [-1, 1) and the file's rate, as torchaudio.load returns them.

    PCM files are read as int16 and scaled by 1/32768, which is what torchaudio does for 16-bit PCM;
    other encodings (float, 24-bit) are read as float32 by soundfile.
    """
    info = sf.info(str(path))
    if info.subtype == "PCM_16":
        data, rate = sf.read(str(path), dtype="int16", always_2d=True)
        audio = data.T.astype(np.float32) / np.float32(32768.0)
    else:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        audio = np.ascontiguousarray(data.T)
    return audio, int(rate)


def load_mono(path: str | Path, sampling_rate: int) -> np.ndarray:
    """[N] float32 at `sampling_rate` as `get_spepc` prepares it: stereo averaged, torchaudio's resampler.

    (The reference averages only exactly-two-channel files; other channel counts keep the first channel.)
    """
    from .sv_resample import resample

    audio, rate = load_pcm(path)
    mono = audio.mean(0) if audio.shape[0] == 2 else audio[0]
    if rate != sampling_rate:
        mono = resample(mono, rate, sampling_rate)
    return mono.astype(np.float32)


def load_librosa(path: str | Path, sampling_rate: int = HUBERT_RATE) -> np.ndarray:
    """`librosa.load(path, sr=sampling_rate)[0]`: mono, soxr_hq resampling, float32 (libsndfile only)."""
    import librosa

    # librosa reads an open SoundFile exactly as it reads the path, but never falls back to audioread.
    wav, _ = librosa.load(sf.SoundFile(str(path)), sr=sampling_rate)
    return wav.astype(np.float32)
