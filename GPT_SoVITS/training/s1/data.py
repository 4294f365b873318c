"""GPT training data as the reference feeds it: `AR/data/dataset.py`, `bucket_sampler.py`, `data_module.py`.

- The dataset keeps the clips whose codes and phonemes fit (`len(codes) <= max_sec * 25`, phonemes
  `<= max_sec * 25 / 2.5`, 3..25 phonemes per second of codes) in the prepared folder's order, and
  repeats the list `max(2, 100 // n)` times when it has fewer than 100 items (a minute of voice is
  ~10-20 clips).
- The batch size is the data module's `max(min(batch_size, len // 4), 1)`.
- Each epoch's order is `DistributedBucketSampler`'s (one replica, seed 0, the epoch set by Lightning):
  items sorted by seconds of codes into buckets 2 s wide, each bucket shuffled and the batches shuffled
  with Python's `random` seeded with the epoch -- the same generator, so the same order.
- `collate`: phonemes right-padded with 0, codes with `pad_val`, BERT features [B, 1024, Tx] zero-padded.
"""
from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Protocol, Sequence

import numpy as np

from ...models.gpt.training import TrainingBatch
from .config import SEMANTIC_HZ_FOR_FILTER

MIN_ITEMS = 100  # the dataset repeats a smaller list up to about this many items
MIN_PS_RATIO, MAX_PS_RATIO = 3, 25  # phonemes per second of codes
BUCKET_SECONDS = 2.0
SAMPLER_SEED = 0  # DistributedBucketSampler's default; s1_train.py does not pass the config's seed


class ClipSource(Protocol):
    """What s1 reads of a prepared folder (`GPT_SoVITS.training.prepared.PreparedDataset`)."""

    clips: Sequence[Any]

    def load(self, name: str) -> dict[str, np.ndarray]: ...


def clip_name(record: Any) -> str:
    return record["name"] if isinstance(record, Mapping) else record.name


@dataclass(frozen=True)
class Item:
    name: str
    phones: np.ndarray  # int64 [N]
    codes: np.ndarray  # int64 [T]
    bert: np.ndarray  # float32 [1024, N]


def keeps(n_phones: int, n_codes: int, max_sec: float, hz: int = SEMANTIC_HZ_FOR_FILTER) -> bool:
    """The dataset's filter (`init_batch`)."""
    if n_codes > max_sec * hz or n_phones > max_sec * hz / 2.5:
        return False
    ratio = n_phones / (n_codes / hz)
    return MIN_PS_RATIO <= ratio <= MAX_PS_RATIO


def load_items(source: ClipSource, max_sec: float) -> list[Item]:
    """The dataset's item list: kept clips in order, repeated as the reference does for small sets."""
    items = []
    for record in source.clips:
        name = clip_name(record)
        clip = source.load(name)
        phones, codes = np.asarray(clip["phones"], np.int64), np.asarray(clip["codes"], np.int64)
        if keeps(len(phones), len(codes), max_sec):
            items.append(Item(name, phones, codes, np.asarray(clip["bert"], np.float32)))
    if not items:
        raise ValueError(f"no clip fits GPT training (codes <= {max_sec} s, {MIN_PS_RATIO}..{MAX_PS_RATIO} "
                         "phonemes per second)")
    return repeat_small(items)


def repeat_small(items: list) -> list:
    if len(items) >= MIN_ITEMS:
        return items
    return items * max(2, int(MIN_ITEMS / len(items)))


def effective_batch_size(batch_size: int, n_items: int) -> int:
    """The data module's guard: at least 4 batches an epoch (so a checkpoint is saved), at least 1 item."""
    return max(min(batch_size, n_items // 4), 1)


def bucket_order(seconds: Sequence[float], batch_size: int, epoch: int, seed: int = SAMPLER_SEED) -> list[int]:
    """`DistributedBucketSampler.__iter__` with one replica: item indices in the epoch's order."""
    by_length = sorted(range(len(seconds)), key=lambda i: seconds[i])  # stable, like list.sort
    buckets, current, limit = [], [], BUCKET_SECONDS
    for i in by_length:
        if seconds[i] < limit:
            current.append(i)
        else:
            buckets.append(current)
            current, limit = [i], limit + BUCKET_SECONDS
    if current:
        buckets.append(current)
    rng = random.Random(epoch + seed)  # the reference seeds the module-level `random` the same way
    shuffled = []
    for bucket in buckets:
        members = bucket.copy()
        rng.shuffle(members)
        shuffled.append(members)
    flat = list(itertools.chain(*shuffled))
    n_batches = int(math.ceil(len(flat) / batch_size))
    batches = [flat[b * batch_size:(b + 1) * batch_size] for b in range(n_batches)]
    rng.shuffle(batches)
    return list(itertools.chain(*batches))


def collate(items: Sequence[Item], pad_val: int) -> TrainingBatch:
    x_len = max(len(item.phones) for item in items)
    y_len = max(len(item.codes) for item in items)
    phones = np.zeros((len(items), x_len), np.int64)
    codes = np.full((len(items), y_len), pad_val, np.int64)
    bert = np.zeros((len(items), items[0].bert.shape[0], x_len), np.float32)
    for row, item in enumerate(items):
        phones[row, :len(item.phones)] = item.phones
        codes[row, :len(item.codes)] = item.codes
        bert[row, :, :item.bert.shape[-1]] = item.bert
    return TrainingBatch(phones, np.array([len(i.phones) for i in items], np.int64), codes,
                         np.array([len(i.codes) for i in items], np.int64), bert)


def epoch_batches(items: Sequence[Item], batch_size: int, epoch: int, pad_val: int) -> Iterator[TrainingBatch]:
    """The DataLoader over the bucket sampler: consecutive `batch_size` items of the epoch's order."""
    size = effective_batch_size(batch_size, len(items))
    order = bucket_order([len(item.codes) / SEMANTIC_HZ_FOR_FILTER for item in items], size, epoch)
    for start in range(0, len(order), size):
        yield collate([items[i] for i in order[start:start + size]], pad_val)
