"""Memory that buffers take only when written, and give back when done (issue 25's footprint).

Resident memory (`VmRSS`) is read around allocations of 256 MB, far above what anything else in the
process allocates meanwhile; the margins are a tenth of that."""
from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import mindspore as ms
from mindspore import nn

from GPT_SoVITS import runtime
from GPT_SoVITS.models.layers import Linear, to_stored_layout, zeros_parameter

BIG = (64, 1024, 1024)  # 256 MB of float32
BIG_MB = 256
MARGIN_MB = 25


def resident_mb() -> float:
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def test_a_zeros_parameter_takes_memory_only_where_written():
    before = resident_mb()
    param = zeros_parameter(*BIG, name="pool", requires_grad=False)
    assert resident_mb() - before < MARGIN_MB  # `ms.Parameter(tensor)` used to copy it into written memory
    assert param.shape == BIG and param.dtype == ms.float32 and param.name == "pool" and not param.requires_grad
    assert not param.asnumpy()[:, ::512].any()


def test_discarded_memory_reads_zero_and_goes_back_to_the_system():
    array = np.ones(BIG, np.float32)
    array[0, 0, 0] = 5.0
    written = resident_mb()
    assert runtime.discard_memory(array.ctypes.data + 4, array.nbytes - 8)  # pages partly covered at both ends
    assert written - resident_mb() > BIG_MB - MARGIN_MB
    flat = array.reshape(-1)
    assert flat[0] == 5.0 and flat[-1] == 1.0 and not flat[1:-1].any()


def test_a_consuming_conversion_to_the_stored_layout_gives_the_same_state_and_empties_the_source():
    cell = nn.SequentialCell([Linear(3, 5, store_transposed=True), Linear(5, 2)])
    rng = np.random.default_rng(0)
    state = {name: rng.standard_normal(param.shape, dtype=np.float32) for name, param in cell.parameters_and_names()}
    state["0.weight"] = rng.standard_normal((5, 3), dtype=np.float32)  # the file's [out, in]
    expected = to_stored_layout(cell, state)
    source = dict(state)
    converted = to_stored_layout(cell, source, consume=True)
    assert source == {}
    assert converted.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(converted[name], expected[name])
    np.testing.assert_array_equal(converted["0.weight"], state["0.weight"].T)
