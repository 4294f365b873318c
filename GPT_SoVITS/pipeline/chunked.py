"""Chunked streaming inside a segment: audio every ~16 semantic codes instead of once per segment.

The reference's `streaming_mode` 2 and 3 (`TTS.py`, `t2s_model.infer_panel_naive`): while the GPT
decodes, its codes are cut into chunks; each chunk is voiced by re-running the acoustic model's encoder
(SoVITS's text encoder) over all codes so far and sending only the last latent frames (the new chunk
plus `overlap` codes already voiced) through the rest of it (prior, flow and generator). The overlap
joins chunks twice: the latent frames are joined to the previous window's (`join_frames`: SoVITS
cross-fades them along a sine), and the waveforms are aligned and cross-faded (SOLA). Each chunk
withholds its last `overlap` codes of audio for the next one to blend with.

This trades exactness for latency: a chunk's audio differs slightly from the whole segment decoded at
once (the generator sees a window, not the whole utterance). The GPT codes are the same, all of them
voiced (the non-chunked path follows the web UI and drops the first code after a count stop).

Two ways to cut (the reference's modes):
  * at pauses (2): once `min_codes + 2` codes wait, score each waiting code by how much it and the next
    one sound like silence (cosine similarity of their embeddings to the mute code's, each clipped to
    -1 below 0; the newest code counts alone) and cut after the best code if its score is >= 0 and at
    least `min_codes` codes lie up to it; else keep waiting;
  * fixed (3): every `min_codes` codes.
Where the reference sends all waiting codes but advances only to the cut (so the next chunk repeats
codes), a chunk here ends at the cut; where it joins the last chunk without SOLA (dead code shows the
intent), the last chunk is aligned and cross-faded too.
"""
from __future__ import annotations

import math
from typing import Iterable, Iterator

import numpy as np

from GPT_SoVITS.models.backends import AcousticModel, Frames, Timbre

from .options import ChunkPlan

SPLIT_THRESHOLD = 0.0  # the reference's chunk_split_thershold: similarity to silence that allows a cut
PAIR_LOOKAHEAD = 2  # codes past `min_codes` before looking for a cut (the reference's check_token_num)
SHORT_CHUNK = 10  # later chunks shorter than this get a longer overlap: up to this many codes of context
SOLA_SEARCH = 320  # samples: how far the next chunk may shift to line up with the previous one


class ChunkCutter:
    """Collects generated codes and says when the waiting ones (or a prefix of them) form a chunk."""

    def __init__(self, plan: ChunkPlan, mute_similarity: np.ndarray | None):
        self.plan = plan
        self.similarity = mute_similarity if plan.at_pauses else None
        self.waiting: list[int] = []

    def add(self, code: int) -> list[int] | None:
        """Add one code; return a chunk (removed from the waiting codes) when one is complete."""
        self.waiting.append(code)
        if self.similarity is None:
            if len(self.waiting) < self.plan.min_codes:
                return None
            cut = len(self.waiting)
        else:
            cut = self._pause_cut()
            if cut is None:
                return None
        chunk, self.waiting = self.waiting[:cut], self.waiting[cut:]
        return chunk

    def rest(self) -> list[int]:
        chunk, self.waiting = self.waiting, []
        return chunk

    def _pause_cut(self) -> int | None:
        if len(self.waiting) < self.plan.min_codes + PAIR_LOOKAHEAD:
            return None
        score = self.similarity[np.asarray(self.waiting)] - SPLIT_THRESHOLD
        score[score < 0] = -1
        score[:-1] = score[:-1] + score[1:]  # a cut needs two silence-like codes in a row
        best = int(score.argmax())
        if score[best] >= 0 and best + 1 >= self.plan.min_codes:
            return best + 1
        return None


def chunks_of(codes: Iterable[tuple[int, bool]], cutter: ChunkCutter) -> Iterator[tuple[list[int], bool]]:
    """`(chunk, last)` from the GPT's `(code, last)` stream. The last chunk may be empty: the EOS came
    right after a cut."""
    for code, last in codes:
        chunk = cutter.add(code)
        if last:
            yield (chunk or []) + cutter.rest(), True
            return
        if chunk:
            yield chunk, False
    yield cutter.rest(), True


def hann_window(length: int) -> np.ndarray:
    """torch.hann_window(length) (periodic)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)).astype(np.float32)


def sola_join(previous: np.ndarray, current: np.ndarray, overlap: int, search: int = SOLA_SEARCH) -> np.ndarray:
    """`current` shifted by up to `search` samples to line up with the last `overlap` samples of
    `previous` (best normalised cross-correlation), cross-faded over them, and appended to the rest of
    `previous`. The reference's `sola_algorithm`."""
    tail = previous[-overlap:]
    head = current[:overlap + search]
    correlation = np.correlate(head, tail, mode="valid")
    energy = np.convolve(head ** 2, np.ones(overlap, np.float32), mode="valid") + 1e-8
    shift = int(np.argmax(correlation / np.sqrt(energy)))
    shifted = current[shift:].copy()
    window = hann_window(2 * overlap)
    shifted[:overlap] = window[:overlap] * shifted[:overlap] + window[overlap:] * tail
    return np.concatenate([previous[:-overlap], shifted])


class ChunkVoicer:
    """Turns one segment's chunks of codes into audio, chunk by chunk (float32 waveforms)."""

    def __init__(self, acoustic: AcousticModel, phones: np.ndarray, timbre: Timbre, plan: ChunkPlan,
                 noise_scale: float, speed: float, rng: np.random.Generator):
        self.acoustic, self.timbre, self.plan = acoustic, timbre, plan
        self.encode = acoustic.frame_encoder(phones, timbre)
        self.noise_scale, self.speed, self.rng = noise_scale, speed, rng
        self.frames_per_code = acoustic.frames_per_code
        self.samples_per_code = acoustic.samples_per_frame * acoustic.frames_per_code / speed
        self.overlap_samples = math.ceil(plan.overlap_codes * self.samples_per_code)
        self.codes: list[int] = []
        self.last_window: Frames | None = None
        self.last_audio: np.ndarray | None = None

    def voice(self, chunk: list[int], last: bool) -> np.ndarray:
        """The audio to play next for this chunk (its overlap tail withheld unless it is the last)."""
        if not chunk:  # nothing new: release the tail the previous chunk held back
            return self.last_audio[-self.overlap_samples:] if self.last_audio is not None else np.zeros(0, np.float32)
        first = self.last_audio is None
        overlap = self.plan.overlap_codes
        if not first and len(chunk) < SHORT_CHUNK:
            overlap += SHORT_CHUNK - len(chunk)
            # never more context than the previous window had (only binds for chunks under ~8 codes)
            overlap = min(overlap, self.last_window.shape[-1] // self.frames_per_code)
        self.codes += chunk
        frames = self.encode(np.asarray(self.codes, np.int64))
        window = frames
        if not first:
            keep = (len(chunk) + overlap) * self.frames_per_code
            window = self.acoustic.join_frames(frames[:, :, -keep:],
                                               self.last_window[:, :, -overlap * self.frames_per_code:])
        audio = self.acoustic.synthesize_frames(window, self.timbre, self.noise_scale, self.speed, self.rng)
        if overlap > self.plan.overlap_codes:  # drop the extra context again
            audio = audio[-int((self.plan.overlap_codes + len(chunk)) * self.samples_per_code):]
        previous, self.last_audio, self.last_window = self.last_audio, audio, window
        if first:
            return audio if last else audio[:-self.overlap_samples]
        joined = sola_join(previous, audio, self.overlap_samples)[previous.size - self.overlap_samples:]
        return joined if last else joined[:-self.overlap_samples]
