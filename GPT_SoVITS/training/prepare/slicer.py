"""Long recordings -> clips cut at silences: the reference's tools/slicer2.py `Slicer` and the
normalisation of tools/slice_audio.py, with the settings its web UI starts with (`SliceSettings()`).

The algorithm is the reference's, step for step (an RMS curve over frames of `hop_size`, silent runs
longer than `min_interval` cut once the clip so far is `min_length` long, at most `max_sil_kept` of
silence kept on either side); tests/training/test_slicer.py checks its boundaries against the
reference's on a golden signal.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SLICE_RATE = 32000  # slice_audio.py decodes every recording at 32 kHz before slicing


@dataclass(frozen=True)
class SliceSettings:
    """The reference web UI's defaults (webui.py, "语音切分")."""

    threshold_db: float = -34.0  # frames quieter than this (RMS, dBFS) may be cut
    min_length_ms: int = 4000  # a clip grows past silences until it is at least this long
    min_interval_ms: int = 300  # the shortest silence that is cut
    hop_size_ms: int = 10  # the RMS curve's frame step
    max_sil_kept_ms: int = 500  # the most silence kept around a cut
    max_amplitude: float = 0.9  # slice_audio.py's `_max`: the peak after normalisation...
    alpha: float = 0.25  # ...mixed in at this share with the clip as it was

    def __post_init__(self):
        if not self.min_length_ms >= self.min_interval_ms >= self.hop_size_ms:
            raise ValueError("min_length >= min_interval >= hop_size must hold")
        if not self.max_sil_kept_ms >= self.hop_size_ms:
            raise ValueError("max_sil_kept >= hop_size must hold")


def rms_curve(samples: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """RMS of centred, zero-padded frames every `hop_length` samples (librosa.feature.rms, as slicer2)."""
    padded = np.pad(samples, (frame_length // 2, frame_length // 2), mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame_length)[::hop_length]
    return np.sqrt(np.mean(np.abs(frames) ** 2, axis=-1))


class Slicer:
    """slicer2.Slicer: positions are in RMS frames internally, in samples in what `boundaries` returns."""

    def __init__(self, sr: int, settings: SliceSettings = SliceSettings()):
        min_interval = sr * settings.min_interval_ms / 1000
        self.threshold = 10 ** (settings.threshold_db / 20.0)
        self.hop_size = round(sr * settings.hop_size_ms / 1000)
        self.win_size = min(round(min_interval), 4 * self.hop_size)
        self.min_length = round(sr * settings.min_length_ms / 1000 / self.hop_size)
        self.min_interval = round(min_interval / self.hop_size)
        self.max_sil_kept = round(sr * settings.max_sil_kept_ms / 1000 / self.hop_size)

    def boundaries(self, samples: np.ndarray) -> list[tuple[int, int]]:
        """(start, end) sample positions of the clips of a mono recording, as slicer2's `slice` returns them
        (the end may pass the recording by less than a hop; slicing clamps it)."""
        if samples.shape[0] <= self.min_length:
            return [(0, samples.shape[0])]
        rms = rms_curve(samples, self.win_size, self.hop_size)
        tags = self._silences(rms)
        total = rms.shape[0]
        if not tags:
            return [(0, total * self.hop_size)]
        frames = ([(0, tags[0][0])] if tags[0][0] > 0 else [])
        frames += [(tags[i][1], tags[i + 1][0]) for i in range(len(tags) - 1)]
        if tags[-1][1] < total:
            frames.append((tags[-1][1], total))
        return [(begin * self.hop_size, end * self.hop_size) for begin, end in frames]

    def _silences(self, rms: np.ndarray) -> list[tuple[int, int]]:
        """The silent frame ranges to remove (slicer2's `sil_tags`)."""
        tags: list[tuple[int, int]] = []
        silence_start: int | None = None
        clip_start = 0
        keep = self.max_sil_kept
        for i, value in enumerate(rms):
            if value < self.threshold:
                if silence_start is None:
                    silence_start = i
                continue
            if silence_start is None:
                continue
            is_leading_silence = silence_start == 0 and i > keep
            need_slice_middle = i - silence_start >= self.min_interval and i - clip_start >= self.min_length
            if not is_leading_silence and not need_slice_middle:
                silence_start = None
                continue
            if i - silence_start <= keep:  # short silence: cut at its quietest frame
                pos = int(rms[silence_start: i + 1].argmin()) + silence_start
                tags.append((0, pos) if silence_start == 0 else (pos, pos))
                clip_start = pos
            elif i - silence_start <= keep * 2:  # keep at most max_sil_kept on each side
                pos = int(rms[i - keep: silence_start + keep + 1].argmin()) + i - keep
                pos_l = int(rms[silence_start: silence_start + keep + 1].argmin()) + silence_start
                pos_r = int(rms[i - keep: i + 1].argmin()) + i - keep
                if silence_start == 0:
                    tags.append((0, pos_r))
                    clip_start = pos_r
                else:
                    tags.append((min(pos_l, pos), max(pos_r, pos)))
                    clip_start = max(pos_r, pos)
            else:  # long silence: drop its middle
                pos_l = int(rms[silence_start: silence_start + keep + 1].argmin()) + silence_start
                pos_r = int(rms[i - keep: i + 1].argmin()) + i - keep
                tags.append((0, pos_r) if silence_start == 0 else (pos_l, pos_r))
                clip_start = pos_r
            silence_start = None
        total = rms.shape[0]
        if silence_start is not None and total - silence_start >= self.min_interval:  # trailing silence
            silence_end = min(total, silence_start + keep)
            pos = int(rms[silence_start: silence_end + 1].argmin()) + silence_start
            tags.append((pos, total + 1))
        return tags


def normalise_slice(chunk: np.ndarray, settings: SliceSettings = SliceSettings()) -> np.ndarray:
    """slice_audio.py's mix of the peak-normalised clip and the clip, as int16 (x 32767).

    As the reference: a clip louder than full scale is first divided by its peak, and the mix then
    divides by that same (old) peak again."""
    chunk = np.array(chunk, dtype=np.float32)
    peak = np.abs(chunk).max()
    if peak > 1:
        chunk /= peak
    mixed = (chunk / peak * (settings.max_amplitude * settings.alpha)) + (1 - settings.alpha) * chunk
    return (mixed * 32767).astype(np.int16)


def slice_recording(audio32k: np.ndarray, settings: SliceSettings = SliceSettings(),
                    ) -> list[tuple[np.ndarray, int, int]]:
    """A 32 kHz mono recording -> [(int16 clip, start, end)] as slice_audio.py writes them. All-zero
    pieces are left out (the reference would divide by a zero peak)."""
    slicer = Slicer(SLICE_RATE, settings)
    pieces = []
    for start, end in slicer.boundaries(audio32k):
        chunk = audio32k[start: min(audio32k.shape[0], end)]
        if chunk.size and np.abs(chunk).max() > 0:
            pieces.append((normalise_slice(chunk, settings), start, end))
    return pieces
