"""s2 batches from a prepared folder, as module/data_utils.py makes them.

Per clip (TextAudioSpeakerLoader): the linear spectrogram of `audio32k` (reflect padding, no centring),
the HuBERT features `ssl` (one frame repeated at the end when a frame short of the spectrogram), the
phone ids, and `sv` for Pro versions. Clips of 0.6 s to 54 s are kept; fewer than 100 are repeated
(max(2, 100 // n) times) so an epoch has enough batches, as the reference does. Batches
(DistributedBucketSampler, one replica): clips grouped by length into buckets (frame boundaries 32,
300, ..., 1900), each bucket topped up to a multiple of the batch size, shuffled per epoch, batches in
shuffled order, drawn as the reference draws them (`torch.randperm` with a generator seeded by the epoch
number counted from 1, reproduced by `torch_random.py`): the same batches in the same order. Padding (TextAudioSpeakerCollate): rows sorted by
spectrogram length, longest first; spectrogram and ssl padded to 2 * (max // 2 + 1) frames.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Iterator, Protocol, Sequence

import numpy as np

from ...audio.spectrogram import linear_spectrogram
from ..torch_random import TorchGenerator
from .step import S2Batch

BOUNDARIES = (32, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800,
              1900)
MIN_SECONDS, MAX_SECONDS = 0.6, 54.0
MIN_CLIPS = 100
WAV_HEADER_BYTES = 44  # the reference measures clips by the size of their 16-bit wav files
SHUFFLE_SEED = 1234


class Clips(Protocol):
    """What a PreparedDataset gives (GPT_SoVITS/training/prepared.py)."""
    version: str
    clips: Sequence[Any]

    def load(self, name: str) -> dict[str, np.ndarray]: ...


@dataclass
class ClipItem:
    ssl: np.ndarray  # [768, T]
    spec: np.ndarray  # [F, T]
    wav: np.ndarray  # [samples]
    phones: np.ndarray
    sv: np.ndarray | None


def clip_item(arrays: dict[str, np.ndarray], hps: dict, pro: bool) -> ClipItem:
    d = hps["data"]
    wav = np.asarray(arrays["audio32k"], dtype=np.float32)
    spec = linear_spectrogram(wav, d["filter_length"], d["hop_length"], d["win_length"])
    ssl = np.asarray(arrays["ssl"], dtype=np.float32)
    if ssl.shape[-1] != spec.shape[-1]:  # the loader's F.pad(ssl, (0, 1), "replicate")
        ssl = np.concatenate([ssl, ssl[:, -1:]], -1)
    return ClipItem(ssl, spec, wav, np.asarray(arrays["phones"], dtype=np.int64),
                    np.asarray(arrays["sv"], dtype=np.float32) if pro else None)


def usable_names(data: Clips, hps: dict) -> tuple[list[str], list[int]]:
    """(clip names in the reference's order: repeated when few, shuffled with seed 1234; their lengths in
    frames as the reference measures them), keeping 0.6 s < duration < 54 s."""
    names = [clip.name for clip in data.clips]
    if not names:
        raise ValueError("the prepared folder has no clips")
    if len(names) < MIN_CLIPS:
        names = names * max(2, MIN_CLIPS // len(names))
    random.Random(SHUFFLE_SEED).shuffle(names)
    seconds = {clip.name: float(clip.seconds) for clip in data.clips}
    rate, hop = hps["data"]["sampling_rate"], hps["data"]["hop_length"]
    kept, lengths = [], []
    for name in names:
        if MIN_SECONDS < seconds[name] < MAX_SECONDS:
            size = 2 * round(seconds[name] * rate) + WAV_HEADER_BYTES
            kept.append(name)
            lengths.append(size // (2 * hop))
    if len(kept) < 2:
        raise ValueError("fewer than 2 clips between 0.6 s and 54 s: nothing to train on")
    return kept, lengths


def bucket_batches(lengths: Sequence[int], batch_size: int, epoch: int) -> list[list[int]]:
    """DistributedBucketSampler's batches (indices into `lengths`) for the 0-based `epoch`, one replica.

    `s2_train.py` numbers epochs from 1 and seeds the sampler's generator with that number alone (not the
    configured seed)."""
    buckets: list[list[int]] = [[] for _ in range(len(BOUNDARIES) - 1)]
    for i, length in enumerate(lengths):
        for b in range(len(BOUNDARIES) - 1):
            if BOUNDARIES[b] < length <= BOUNDARIES[b + 1]:
                buckets[b].append(i)
                break
    buckets = [b for b in buckets if b]
    generator = TorchGenerator(epoch + 1)
    batches = []
    for bucket in buckets:
        order = generator.randperm(len(bucket))
        rem = (batch_size - len(bucket) % batch_size) % batch_size
        order = order + order * (rem // len(bucket)) + order[:rem % len(bucket)]
        batches += [[bucket[k] for k in order[j:j + batch_size]] for j in range(0, len(order), batch_size)]
    return [batches[i] for i in generator.randperm(len(batches))]


def collate(items: Sequence[ClipItem]) -> S2Batch:
    """TextAudioSpeakerCollate: zero-padded arrays, rows longest spectrogram first."""
    order = sorted(range(len(items)), key=lambda i: -items[i].spec.shape[1])  # torch.sort, descending
    rows = [items[i] for i in order]
    b = len(rows)
    ssl_len = 2 * (max(r.ssl.shape[-1] for r in rows) // 2 + 1)
    spec_len = 2 * (max(r.spec.shape[-1] for r in rows) // 2 + 1)
    wav_len = max(r.wav.shape[-1] for r in rows)
    text_len = max(r.phones.shape[0] for r in rows)
    ssl = np.zeros((b, rows[0].ssl.shape[0], ssl_len), np.float32)
    spec = np.zeros((b, rows[0].spec.shape[0], spec_len), np.float32)
    wav = np.zeros((b, 1, wav_len), np.float32)
    text = np.zeros((b, text_len), np.int64)
    for i, r in enumerate(rows):
        ssl[i, :, :r.ssl.shape[-1]] = r.ssl
        spec[i, :, :r.spec.shape[-1]] = r.spec
        wav[i, 0, :r.wav.shape[-1]] = r.wav
        text[i, :r.phones.shape[0]] = r.phones
    lengths = lambda xs: np.array(xs, dtype=np.int64)  # noqa: E731
    sv = np.stack([r.sv for r in rows]) if rows[0].sv is not None else None
    return S2Batch(ssl, lengths([r.ssl.shape[-1] for r in rows]), spec, lengths([r.spec.shape[-1] for r in rows]),
                   wav, lengths([r.wav.shape[-1] for r in rows]), text, lengths([r.phones.shape[0] for r in rows]),
                   sv)


class BatchSource:
    """The clips of a prepared folder, loaded once, served as an epoch's batches."""

    def __init__(self, data: Clips, hps: dict, pro: bool):
        self.names, self.lengths = usable_names(data, hps)
        self.data, self.hps, self.pro = data, hps, pro
        self._items: dict[str, ClipItem] = {}

    def item(self, name: str) -> ClipItem:
        if name not in self._items:
            self._items[name] = clip_item(self.data.load(name), self.hps, self.pro)
        return self._items[name]

    def batches(self, batch_size: int, epoch: int) -> Iterator[S2Batch]:
        for indices in bucket_batches(self.lengths, batch_size, epoch):
            yield collate([self.item(self.names[i]) for i in indices])
