"""Strict loading into MindSpore cells: every mismatch is named, nothing is half-loaded."""
from __future__ import annotations

import numpy as np
import pytest
from mindspore import mint, nn

from GPT_SoVITS.weights import WeightLoadError, load_into


class _Tiny(nn.Cell):
    def __init__(self) -> None:
        super().__init__()
        self.proj = mint.nn.Linear(4, 3)
        self.norm = mint.nn.LayerNorm(3)


def _state(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "proj.weight": rng.standard_normal((3, 4)).astype(np.float16),
        "proj.bias": rng.standard_normal(3).astype(np.float16),
        "norm.weight": rng.standard_normal(3).astype(np.float16),
        "norm.bias": rng.standard_normal(3).astype(np.float16),
    }


def test_fp16_values_are_upcast_into_float32_parameters():
    cell, state = _Tiny(), _state(np.random.default_rng(0))
    load_into(cell, state, source="tiny.pth")
    for name, param in cell.parameters_and_names():
        assert param.asnumpy().dtype == np.float32
        np.testing.assert_array_equal(param.asnumpy(), state[name].astype(np.float32))


def test_every_mismatch_is_named_with_the_file_and_nothing_is_assigned():
    cell, state = _Tiny(), _state(np.random.default_rng(1))
    before = cell.proj.weight.asnumpy().copy()
    del state["norm.bias"]
    state["extra.weight"] = np.zeros(2, np.float16)
    state["proj.bias"] = np.zeros(5, np.float16)
    with pytest.raises(WeightLoadError) as err:
        load_into(cell, state, source="broken.pth")
    message = str(err.value)
    for part in ("broken.pth", "missing (1): norm.bias", "unexpected (1): extra.weight", "proj.bias (file (5,), model (3,))"):
        assert part in message
    np.testing.assert_array_equal(cell.proj.weight.asnumpy(), before)


def test_ignore_lists_accept_names_and_patterns():
    cell, state = _Tiny(), _state(np.random.default_rng(2))
    del state["norm.bias"]
    state["bn.num_batches_tracked"] = np.array(3, np.int64)
    load_into(cell, state, source="x.pth", ignore_missing=["norm.bias"], ignore_unexpected=["*.num_batches_tracked"])
    np.testing.assert_array_equal(cell.proj.weight.asnumpy(), state["proj.weight"].astype(np.float32))
