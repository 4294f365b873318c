"""The s2 batch order equals the reference's: `module/data_utils.py` DistributedBucketSampler's batches, epoch
by epoch, recorded by tools/training_golden/make_sampler_golden.py (`s2/sampler.json` in the training goldens).
The reference shuffles with `torch.randperm`; `GPT_SoVITS/training/torch_random.py` reproduces its draws."""
from __future__ import annotations

import json

import pytest

import s2_golden as golden
from GPT_SoVITS.training.s2.data import BOUNDARIES, bucket_batches
from support.required import missing


def _sampler_golden() -> dict:
    path = golden.training_dir() / "s2" / "sampler.json"
    if not path.exists():
        missing(f"s2 sampler golden {path}", "REF_DIR=/work/ref /work/torch-venv/bin/python "
                "tools/training_golden/make_sampler_golden.py")
    return json.loads(path.read_text())


def test_boundaries_are_the_references():
    assert list(BOUNDARIES) == _sampler_golden()["boundaries"]


@pytest.mark.parametrize("case", range(4))
def test_batches_in_the_references_order(case):
    cases = _sampler_golden()["cases"]
    if case >= len(cases):
        pytest.fail(f"the sampler golden has {len(cases)} cases")
    c = cases[case]
    for epoch, expected in c["epochs"].items():  # the reference counts epochs from 1, the trainer from 0
        assert bucket_batches(c["lengths"], c["batch_size"], int(epoch) - 1) == expected, f"epoch {epoch}"
