"""GPT (s1) batches as the reference makes them: its bucket sampler's order per epoch and its collate
(golden from the reference), its dataset filter and small-set repetition, the data module's batch size."""
from __future__ import annotations

import numpy as np

from s1_golden import clips, meta, reference_batches
from GPT_SoVITS.training.s1.data import (
    Item,
    bucket_order,
    collate,
    effective_batch_size,
    epoch_batches,
    keeps,
    load_items,
)


def _items() -> list[Item]:
    return [Item(str(i), c["phones"], c["codes"], c["bert"]) for i, c in enumerate(clips())]


def test_bucket_sampler_order_per_epoch():
    sampler = meta()["sampler"]
    seconds = [n / 25 for n in sampler["lengths_codes"]]
    for epoch, order in enumerate(sampler["orders"]):
        assert bucket_order(seconds, sampler["batch_size"], epoch) == order, f"epoch {epoch}"


def test_collate_pads_as_the_reference():
    items, pad = _items(), meta()["config"]["data"]["pad_val"]
    for members, ref in zip(meta()["batch_members"], reference_batches()):
        batch = collate([items[i] for i in members], pad)
        np.testing.assert_array_equal(batch.phoneme_ids, ref["phoneme_ids"])
        np.testing.assert_array_equal(batch.phoneme_lens, ref["phoneme_ids_len"])
        np.testing.assert_array_equal(batch.semantic_ids, ref["semantic_ids"])
        np.testing.assert_array_equal(batch.semantic_lens, ref["semantic_ids_len"])
        for row, i in enumerate(members):
            n = len(items[i].phones)
            np.testing.assert_array_equal(batch.bert[row, :, :n], items[i].bert)
            assert not batch.bert[row, :, n:].any()


def test_filter_repeat_and_batch_size():
    # 25 codes a second: 100 codes = 4 s; 3..25 phonemes a second, at most max_sec * 25 codes
    assert keeps(40, 100, max_sec=54) and keeps(12, 100, max_sec=54) and keeps(100, 100, max_sec=54)
    assert not keeps(11, 100, max_sec=54) and not keeps(101, 100, max_sec=54)
    assert not keeps(300, 1351, max_sec=54) and not keeps(541, 1000, max_sec=54) and keeps(540, 1000, max_sec=54)

    class Source:
        clips = [{"name": f"c{i}"} for i in range(7)]

        def load(self, name):
            n = int(name[1:])
            return {"phones": np.arange(40 if n != 3 else 2), "codes": np.arange(100), "bert": np.zeros((1024, 40))}

    items = load_items(Source(), max_sec=54)
    assert len(items) == 6 * 16 and [item.name for item in items[:6]] == ["c0", "c1", "c2", "c4", "c5", "c6"]
    assert effective_batch_size(8, len(items)) == 8 and effective_batch_size(8, 20) == 5
    assert effective_batch_size(8, 3) == 1
    sizes = [len(b.phoneme_lens) for b in epoch_batches(items, 8, 0, 1024)]
    assert sum(sizes) == len(items) and max(sizes) == 8
