"""The generator's fused CPU kernels (`models/sovits/fused.py`) compute exactly what the MindSpore op chains
they replace compute, and the generator through them gives the same audio as through MindSpore's ops.

Bitwise equality is the contract (same float32 operations in the same order), so the tolerance is zero;
both the one-thread path (small tensors) and the threaded one (large) are exercised.
"""
from __future__ import annotations

import logging

import numpy as np
import mindspore as ms
import pytest
from golden_data import model_file, model_subdirs
from mindspore import ops

from GPT_SoVITS.models.sovits import fused, load_sovits
from GPT_SoVITS.models.sovits.generator import FINAL_LRELU_SLOPE, LRELU_SLOPE

SHAPES = [(1, 4, 7), (1, 16, 20_000), (2, 3, 50_000)]  # below and above the kernels' threading threshold


@pytest.fixture(scope="module")
def kernels() -> fused.FusedOps:
    built = fused.fused_ops()
    assert built is not None, "g++ should build the kernels on the CPU backend"
    return built


def _random(rng, *shape):
    return ms.Tensor(rng.standard_normal(shape).astype(np.float32))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("slope", [LRELU_SLOPE, FINAL_LRELU_SLOPE])
def test_kernels_equal_the_op_chains_bitwise(kernels, shape, slope):
    rng = np.random.default_rng(sum(shape))
    x, d, bias = _random(rng, *shape), _random(rng, *shape), _random(rng, shape[1])
    branches = tuple(_random(rng, *shape) for _ in range(3))
    s = fused.slope_tensor(slope)
    cases = {
        "leaky_relu": (kernels.leaky_relu(x, s), ops.leaky_relu(x, slope)),
        "bias_leaky_relu": (kernels.bias_leaky_relu(x, bias, s), ops.leaky_relu(ops.bias_add(x, bias), slope)),
        "bias_residual": (kernels.bias_residual(x, d, bias), x + ops.bias_add(d, bias)),
        "mean_leaky_relu": (kernels.mean_leaky_relu(s, branches),
                            ops.leaky_relu((branches[0] + branches[1] + branches[2]) * (1.0 / 3), slope)),
    }
    for name, (actual, expected) in cases.items():
        assert actual.shape == expected.shape, name
        np.testing.assert_array_equal(actual.asnumpy(), expected.asnumpy(), err_msg=name)


@pytest.mark.parametrize("version", model_subdirs("sovits"))
def test_generator_through_the_kernels_equals_mindspores_ops(kernels, version):
    """Each golden model's generator on its golden latent, with and without the kernels."""
    sovits = load_sovits(model_file(f"sovits/{version}/model.pth"))
    golden = np.load(model_file(f"sovits/{version}/golden.npz"))
    case = next(k[: -len(".dec_in")] for k in golden.files if k.endswith(".dec_in"))
    z, g = ms.Tensor(golden[f"{case}.dec_in"][None]), ms.Tensor(golden[f"{case}.ge"].reshape(1, -1, 1))
    dec = sovits.model.dec
    assert dec.fused is kernels
    through_kernels = dec(z, g, None, True).asnumpy()
    through_ops = dec(z, g).asnumpy()  # without `inference`: what training runs (the kernels have no gradient)
    np.testing.assert_array_equal(through_kernels, through_ops)


def test_without_a_compiler_the_generator_keeps_mindspores_ops(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # nothing built there yet
    monkeypatch.setattr(fused, "COMPILER", ("no-such-compiler-gpt-sovits", *fused.COMPILER[1:]))
    fused.fused_ops.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger=fused.__name__):
            assert fused.fused_ops() is None
        assert "MindSpore's ops" in caplog.text
    finally:
        fused.fused_ops.cache_clear()


def test_a_library_outside_mindspores_white_list_is_not_used(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("MS_CUSTOM_AOT_WHITE_LIST", str(tmp_path))  # the kernels' cache is elsewhere
    fused.fused_ops.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger=fused.__name__):
            assert fused.fused_ops() is None
        assert "MS_CUSTOM_AOT_WHITE_LIST" in caplog.text
        monkeypatch.setenv("MS_CUSTOM_AOT_WHITE_LIST", str(fused.build_library().parent))
        fused.fused_ops.cache_clear()
        assert fused.fused_ops() is not None
    finally:
        fused.fused_ops.cache_clear()


def test_switched_off_or_off_the_cpu_there_are_no_kernels(monkeypatch):
    from GPT_SoVITS import runtime

    fused.fused_ops.cache_clear()
    try:
        monkeypatch.setenv("GPT_SOVITS_FUSED_KERNELS", "0")
        assert fused.fused_ops() is None
        monkeypatch.delenv("GPT_SOVITS_FUSED_KERNELS")
        fused.fused_ops.cache_clear()
        monkeypatch.setattr(runtime, "_configured", runtime.Runtime("Ascend", 0))
        assert not runtime.fused_kernels() and fused.fused_ops() is None
    finally:
        fused.fused_ops.cache_clear()
