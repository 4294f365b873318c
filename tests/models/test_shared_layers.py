"""The shared torch-named layers (`models/layers.py`) against direct numpy definitions."""
from __future__ import annotations

import numpy as np
import mindspore as ms
import pytest
from mindspore import nn

from GPT_SoVITS.models.layers import Linear, gelu, to_stored_layout, to_torch_layout, zero_pad

rng = np.random.default_rng(0)


@pytest.mark.parametrize("rows", [1, 2, 32, 45])
def test_linear_in_either_stored_layout_is_x_wt_plus_b(rows):
    w, b = rng.standard_normal((24, 40)), rng.standard_normal(24)  # torch layout [out, in]
    x = rng.standard_normal((rows, 40)).astype(np.float32)

    class Net(nn.Cell):
        def __init__(self):
            super().__init__()
            self.plain = Linear(40, 24)
            self.fast = Linear(40, 24, store_transposed=True)

    net = Net()
    state = to_stored_layout(net, {"plain.weight": w, "plain.bias": b, "fast.weight": w, "fast.bias": b})
    assert state["fast.weight"].shape == (40, 24) and state["plain.weight"].shape == (24, 40)
    for name, value in state.items():
        dict(net.parameters_and_names())[name].set_data(ms.Tensor(np.asarray(value, np.float32)))
    expected = x.astype(np.float64) @ w.T + b
    for layer in (net.plain, net.fast):
        np.testing.assert_allclose(layer(ms.Tensor(x)).asnumpy(), expected, atol=1e-4)
    read_back = to_torch_layout(net, {n: p.asnumpy() for n, p in net.parameters_and_names()})
    np.testing.assert_allclose(read_back["fast.weight"], w, atol=1e-6)  # what a writer of torch files needs
    batched = net.fast(ms.Tensor(x.reshape(1, rows, 40))).asnumpy()
    np.testing.assert_allclose(batched[0], expected, atol=1e-4)


def test_gelu_is_the_exact_erf_form():
    from math import erf

    x = np.linspace(-6, 6, 101).astype(np.float32)
    expected = np.array([v * 0.5 * (1 + erf(v / np.sqrt(2))) for v in x.astype(np.float64)])
    np.testing.assert_allclose(gelu(ms.Tensor(x)).asnumpy(), expected, atol=1e-6)


@pytest.mark.parametrize("axis,before,after", [(0, 2, 1), (1, 0, 3), (-1, 4, 0), (2, 0, 0)])
def test_zero_pad_matches_numpy_pad(axis, before, after):
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    widths = [(0, 0)] * 3
    widths[axis] = (before, after)
    np.testing.assert_array_equal(zero_pad(ms.Tensor(x), axis, before, after).asnumpy(), np.pad(x, widths))
