"""Golden data for the s2 batch order: the reference's DistributedBucketSampler, epoch by epoch.

    REF_DIR=/work/ref /work/torch-venv/bin/python tools/training_golden/make_sampler_golden.py [out_dir]

Writes `tests/golden/training/s2/sampler.json`: for a few lists of clip lengths (in spectrogram frames)
and batch sizes, the batches (indices into the list) that `module/data_utils.py`'s sampler yields with one
replica after `set_epoch(epoch)`, for the epochs `s2_train.py` runs first (it counts from 1). Its shuffles
draw from `torch.randperm` with a generator seeded by the epoch; the product reproduces that order
without torch (`GPT_SoVITS/training/torch_random.py`).
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import make_s2_golden  # the reference's import stubs and REF

ARGS = sys.argv[1:]
OUT = Path(ARGS[0]) if ARGS else Path(__file__).resolve().parents[2] / "tests/golden/training/s2"
BOUNDARIES = [32, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900]
EPOCHS = [1, 2, 3, 7]


class Lengths:
    """The one attribute the sampler reads from TextAudioSpeakerLoader, and its length."""

    def __init__(self, lengths: list[int]):
        self.lengths = lengths

    def __len__(self) -> int:
        return len(self.lengths)


def cases() -> list[dict]:
    rng = random.Random(23)
    small = [40, 50, 310, 320, 330, 10, 45, 2000]  # 10 and 2000 fall outside the buckets
    many = [rng.randrange(20, 1950) for _ in range(130)]  # a fine-tune's repeated clips, many buckets
    few = [rng.choice([120, 140, 150, 160]) for _ in range(100)]  # one bucket, 100 items as small sets become
    return [{"lengths": small, "batch_size": 2}, {"lengths": many, "batch_size": 4},
            {"lengths": few, "batch_size": 8}, {"lengths": many, "batch_size": 3}]


def main() -> None:
    make_s2_golden._stubs()
    from module.data_utils import DistributedBucketSampler

    out = []
    for case in cases():
        batches = {}
        for epoch in EPOCHS:
            sampler = DistributedBucketSampler(Lengths(case["lengths"]), case["batch_size"], list(BOUNDARIES),
                                               num_replicas=1, rank=0, shuffle=True)
            sampler.set_epoch(epoch)
            batches[str(epoch)] = [list(map(int, b)) for b in sampler]
        out.append({**case, "epochs": batches})
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sampler.json").write_text(json.dumps({"boundaries": BOUNDARIES, "cases": out}) + "\n")
    print(f"wrote {OUT / 'sampler.json'}")


if __name__ == "__main__":
    main()
