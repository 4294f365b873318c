"""Building blocks of the SoVITS port checked against direct numpy definitions (no golden data needed)."""
from __future__ import annotations

import numpy as np
import mindspore as ms
import pytest

from GPT_SoVITS.models.sovits.attentions import _absolute_to_relative, _relative_to_absolute
from GPT_SoVITS.models.sovits.layers import Conv1d, ConvTranspose1d
from GPT_SoVITS.models.sovits.text_encoder import linear_resize_matrix
from GPT_SoVITS.models.sovits.weight_norm import fold_weight_norm

rng = np.random.default_rng(0)


def _set(cell, **arrays):
    for name, value in arrays.items():
        getattr(cell, name).set_data(ms.Tensor(value.astype(np.float32)))


def numpy_conv1d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int, pad: int, dil: int,
                 groups: int) -> np.ndarray:
    """torch.nn.functional.conv1d by its definition: y[o, t] = b[o] + sum_{c, j} w[o, c, j] x[c, t*stride + j*dil]."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    c_out, c_per_group, k = w.shape
    n_out = (x.shape[-1] - dil * (k - 1) - 1) // stride + 1
    y = np.zeros((x.shape[0], c_out, n_out))
    per_out = c_out // groups
    for o in range(c_out):
        g = o // per_out
        for j in range(k):
            taps = x[:, g * c_per_group:(g + 1) * c_per_group, j * dil: j * dil + stride * (n_out - 1) + 1: stride]
            y[:, o] += np.einsum("c,bct->bt", w[o, :, j], taps)
    return y if b is None else y + b[None, :, None]


@pytest.mark.parametrize("c_in,c_out,k,stride,pad,dil,groups", [
    (6, 4, 1, 1, 0, 1, 1), (6, 4, 3, 1, 1, 1, 1), (4, 4, 5, 1, 10, 5, 1), (8, 8, 4, 1, 2, 1, 4),
    (1, 3, 10, 5, 0, 1, 1), (6, 6, 2, 2, 0, 1, 1), (3, 5, 11, 25, 5, 1, 1)])
def test_conv1d_equals_its_definition(c_in, c_out, k, stride, pad, dil, groups):
    conv = Conv1d(c_in, c_out, k, stride, pad, dil, groups)
    w, b = rng.standard_normal((c_out, c_in // groups, k)), rng.standard_normal(c_out)
    _set(conv, weight=w, bias=b)
    x = rng.standard_normal((2, c_in, 37))
    got = conv(ms.Tensor(x.astype(np.float32))).asnumpy()
    np.testing.assert_allclose(got, numpy_conv1d(x, w, b, stride, pad, dil, groups), atol=1e-4)


def test_conv1d_without_bias():
    conv = Conv1d(5, 3, 7, padding=3, bias=False)
    w = rng.standard_normal((3, 5, 7))
    _set(conv, weight=w)
    x = rng.standard_normal((1, 5, 20))
    np.testing.assert_allclose(conv(ms.Tensor(x.astype(np.float32))).asnumpy(),
                               numpy_conv1d(x, w, None, 1, 3, 1, 1), atol=1e-4)


@pytest.mark.parametrize("c_in,c_out,k,stride", [(8, 4, 16, 10), (6, 3, 20, 10), (4, 2, 8, 2), (4, 2, 2, 2)])
def test_conv_transpose1d_scatters_each_input_frame(c_in, c_out, k, stride):
    pad = (k - stride) // 2
    conv = ConvTranspose1d(c_in, c_out, k, stride, pad)
    w, b = rng.standard_normal((c_in, c_out, k)), rng.standard_normal(c_out)
    _set(conv, weight=w, bias=b)
    x = rng.standard_normal((1, c_in, 7))
    full = np.zeros((c_out, 6 * stride + k))
    for t in range(7):  # frame t adds W^T x[:, t] at output offsets t * stride .. t * stride + k - 1
        full[:, t * stride:t * stride + k] += np.einsum("iok,i->ok", w, x[0, :, t])
    expected = full[:, pad:full.shape[1] - pad] + b[:, None]
    np.testing.assert_allclose(conv(ms.Tensor(x.astype(np.float32))).asnumpy()[0], expected, atol=1e-5)


def test_weight_norm_axis_zero_is_the_transposed_convs_input_channel():
    v = rng.standard_normal((6, 3, 4))  # ConvTranspose1d weight [in, out, k]
    g = rng.uniform(0.5, 1.5, (6, 1, 1))
    folded = fold_weight_norm({"up.weight_g": g, "up.weight_v": v, "up.bias": np.zeros(3)})
    assert set(folded) == {"up.weight", "up.bias"}
    norms = np.sqrt((folded["up.weight"].astype(np.float64) ** 2).sum(axis=(1, 2)))
    np.testing.assert_allclose(norms, g.ravel(), rtol=1e-6)


def test_unpaired_weight_norm_is_an_error():
    with pytest.raises(KeyError):
        fold_weight_norm({"a.weight_g": np.ones((2, 1, 1))})


@pytest.mark.parametrize("n_in,n_out", [(80, 65), (80, 81), (10, 10), (5, 17)])
def test_speed_resize_matches_torch_linear_interpolation(n_in, n_out):
    m = linear_resize_matrix(n_in, n_out)
    np.testing.assert_allclose(m.sum(0), 1.0, rtol=1e-6)  # every output frame is a convex combination
    x = np.arange(n_in, dtype=np.float64)
    # align_corners=False: output i samples the input at (i + 0.5) * n_in / n_out - 0.5, clamped to the ends.
    src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    np.testing.assert_allclose(x @ m, src, atol=1e-4)


def test_relative_position_skews_index_by_offset():
    length, width = 5, 2 * 5 - 1
    rel = rng.standard_normal((1, 1, length, width)).astype(np.float32)
    absolute = _relative_to_absolute(ms.Tensor(rel)).asnumpy()[0, 0]
    for i in range(length):
        for j in range(length):  # key j seen from query i has offset j - i, stored at column j - i + L - 1
            assert absolute[i, j] == rel[0, 0, i, j - i + length - 1]
    back = _absolute_to_relative(ms.Tensor(absolute[None, None])).asnumpy()[0, 0]
    for i in range(length):
        for m in range(width):
            j = i + m - (length - 1)
            assert back[i, m] == (absolute[i, j] if 0 <= j < length else 0.0)


def test_generator_is_built_from_the_config():
    """v2ProPlus differs from v2Pro only in decoder config (wider start, first kernel 20): read, not assumed."""
    from GPT_SoVITS.models.sovits.generator import Generator, GeneratorDims

    dims = GeneratorDims(initial_channel=8, resblock="1", resblock_kernel_sizes=(3, 7),
                         resblock_dilation_sizes=((1, 3, 5),) * 2, upsample_rates=(10, 8, 2, 2, 2), upsample_initial_channel=96,
                         upsample_kernel_sizes=(20, 16, 8, 2, 2), gin_channels=4)
    gen = Generator(dims)
    shapes = {name: tuple(p.shape) for name, p in gen.parameters_and_names()}
    assert shapes["ups.0.weight"] == (96, 48, 20)  # ConvTranspose1d(96, 48, 20, 10, padding 5)
    assert shapes["cond.weight"] == (96, 4, 1) and shapes["conv_post.weight"] == (1, 3, 7)
    assert "conv_post.bias" not in shapes
    audio = gen(ms.Tensor(np.zeros((1, 8, 6), np.float32)), ms.Tensor(np.zeros((1, 4, 1), np.float32)))
    assert audio.shape == (1, 1, 6 * 10 * 8 * 2 * 2 * 2)
