"""Memory that buffers take only when written, and give back when done (issue 25's footprint).

Resident memory (`VmRSS`) is read around allocations of 256 MB, far above what anything else in the
process allocates meanwhile; the margins are a tenth of that."""
from __future__ import annotations

import gc
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from GPT_SoVITS import runtime
from GPT_SoVITS.models.gpt.batch import PoolBuffers
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
    assert resident_mb() - before < MARGIN_MB  # `ms.Parameter(tensor)` copies into written memory
    assert param.shape == BIG and param.dtype == ms.float32 and param.name == "pool" and not param.requires_grad
    assert not param.asnumpy()[:, ::512].any()


def test_a_key_value_pool_takes_no_memory_until_positions_are_written():
    cfg = SimpleNamespace(num_heads=16, head_dim=64, num_layers=2)  # 4 buffers of 64 MB at 16384 positions
    before = resident_mb()
    pool = PoolBuffers(SimpleNamespace(cfg=cfg), 16384)
    assert resident_mb() - before < MARGIN_MB
    assert len(pool.keys) == len(pool.values) == 2 and pool.keys[0].shape == (16, 16384, 64)


def test_discarded_memory_reads_zero_and_goes_back_to_the_system():
    array = np.ones(BIG, np.float32)
    array[0, 0, 0] = 5.0
    written = resident_mb()
    assert runtime.discard_memory(array.ctypes.data + 4, array.nbytes - 8)  # pages partly covered at both ends
    assert written - resident_mb() > BIG_MB - MARGIN_MB
    flat = array.reshape(-1)
    assert flat[0] == 5.0 and flat[-1] == 1.0 and not flat[1:-1].any()


def test_a_pool_is_cleared_in_place_on_the_written_positions_of_every_head():
    """`clear(n)` zeroes positions 0..n-1 of each head of each buffer and touches nothing after them (the
    positions past the batch's frontier are zero already)."""
    cfg = SimpleNamespace(num_heads=4, head_dim=8, num_layers=2)
    pool = PoolBuffers(SimpleNamespace(cfg=cfg), 64)
    rng = np.random.default_rng(0)
    written = 40
    for param in (*pool.keys, *pool.values):
        ops.assign(param, ms.Tensor(rng.standard_normal(param.shape).astype(np.float32) + 3.0))  # never 0
    pool.clean = False
    assert pool.clear(written) and pool.clean
    for param in (*pool.keys, *pool.values):
        values = param.asnumpy()
        assert not values[:, :written].any() and values[:, written:].all(), param.name


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


READ_FOLDER = """
import sys
from pathlib import Path
from GPT_SoVITS.weights import load_hf_folder

def peak_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

before = peak_mb()
state = load_hf_folder(sys.argv[1]).state
print(peak_mb() - before, sum(a.nbytes for a in state.values()) >> 20)
"""


def test_a_safetensors_folder_is_read_without_holding_the_file_in_memory_besides_its_arrays(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    state = {f"layer{i}.weight": rng.standard_normal((1024, 1024 * 8), dtype=np.float32) for i in range(8)}
    save_file(state, str(tmp_path / "model.safetensors"))  # 256 MB
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8}))
    del state
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", READ_FOLDER, str(tmp_path)], cwd=repo, capture_output=True,
                          text=True, timeout=300, check=True, env={**os.environ, "PYTHONPATH": str(repo)})
    peak, size = (float(value) for value in done.stdout.split())
    assert size == BIG_MB and peak < BIG_MB + MARGIN_MB  # safetensors' load_file: the file, then each copy
