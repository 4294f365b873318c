"""Torch-named convolutions over time-major tensors [B, T, C], for the HiFi-GAN generator.

The generator is nearly all convolutions over long sequences (up to 320 000 samples for 10 s) with few
channels (256 down to 16). Computed as im2col + one matrix product, the time-major form is 1.5-4x
faster on MindSpore's CPU backend than the channel-major one in `layers.py`: the product is then
[T, k*C_in] x [k*C_in, C_out], whose long axis is the rows, which the CPU matmul runs far better than a
[C_out, k*C_in] x [k*C_in, T] product, and the kernel taps are gathered by one row gather instead of an
`unfold`. (MindSpore's own Conv1d/Conv2d CPU kernels are ~100x slower than either.) Biases are added
with `bias_add` on the 2-D product: a broadcast `+` costs ~10x more on the CPU backend.

Parameters keep PyTorch's names and layouts (Conv1d `weight` [out, in, k]; ConvTranspose1d `weight`
[in, out, k]), so checkpoints load unchanged; the matrix layout is derived from them on every call
(negligible next to the products).
"""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops

from ..layers import zero_pad, zeros_parameter


def pad_time(x: ms.Tensor, left: int, right: int) -> ms.Tensor:
    """Zeros before and after axis 1 (time) of a [B, T, ...] tensor."""
    return zero_pad(x, 1, left, right)


def _matmul_rows(x: ms.Tensor, w: ms.Tensor, bias: ms.Tensor | None = None) -> ms.Tensor:
    """[B, T, K] x [K, N] (+ bias [N]) -> [B, T, N] as one 2-D product."""
    b, t, k = x.shape
    y = ops.matmul(x.reshape(b * t, k), w)
    if bias is not None:
        y = ops.bias_add(y, bias)  # on [rows, N] the "channel" axis 1 is N
    return y.reshape(b, t, w.shape[1])


def _tap_rows(x: ms.Tensor, kernel_size: int, dilation: int) -> ms.Tensor:
    """im2col in time-major form: [B, L, C] -> [B, L - d(k-1), k*C], row t = x[t + j*d] for j < k."""
    b, length, c = x.shape
    n_out = length - dilation * (kernel_size - 1)
    index = (ops.arange(n_out, dtype=ms.int32).expand_dims(1)
             + ops.arange(kernel_size, dtype=ms.int32) * dilation)  # [n_out, k]
    return ops.gather(x, index, 1).reshape(b, n_out, kernel_size * c)


class TimeMajorConv1d(nn.Cell):
    """torch.nn.Conv1d (stride 1, one group) on [B, T, C_in] -> [B, T', C_out]: `weight` [out, in, k], `bias`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0,
                 dilation: int = 1, bias: bool = True):
        super().__init__()
        self.weight = zeros_parameter(out_channels, in_channels, kernel_size)
        self.bias = zeros_parameter(out_channels) if bias else None
        self.kernel_size, self.padding, self.dilation = kernel_size, padding, dilation

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        k, d = self.kernel_size, self.dilation
        # Row j * C_in + c of the matrix is input channel c under kernel tap j, as the columns below.
        w = self.weight.transpose(2, 1, 0).reshape(-1, self.weight.shape[0])
        cols = x if k == 1 and self.padding == 0 else _tap_rows(pad_time(x, self.padding, self.padding), k, d)
        return _matmul_rows(cols, w, self.bias)


class TimeMajorConvTranspose1d(nn.Cell):
    """torch.nn.ConvTranspose1d on [B, T, C_in] -> [B, T', C_out]: `weight` [in, out, k], `bias` [out].

    Polyphase form: one product gives every input frame's contribution to its k output samples
    [B, T, k, out]; the taps, padded to m = ceil(k / stride) blocks of `stride`, are overlap-added as m
    copies shifted by one input frame each, and the result read as [B, (T + m - 1) * stride, out].
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0):
        super().__init__()
        self.weight = zeros_parameter(in_channels, out_channels, kernel_size)
        self.bias = zeros_parameter(out_channels)
        self.out_channels, self.kernel_size, self.stride, self.padding = (
            out_channels, kernel_size, stride, padding)
        self.n_blocks = -(-kernel_size // stride)  # ceil(k / stride)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        b, t, c = x.shape
        k, s, m, out = self.kernel_size, self.stride, self.n_blocks, self.out_channels
        w = self.weight.transpose(0, 2, 1).reshape(c, k * out)  # column j * out + o: tap j, channel o
        taps = _matmul_rows(x, w).reshape(b, t, k, out)
        if m * s > k:
            taps = ops.concat([taps, ops.zeros((b, t, m * s - k, out), taps.dtype)], axis=2)
        taps = taps.reshape(b, t, m, s, out)
        full = None
        for j in range(m):  # block j lands j input frames later
            block = pad_time(taps[:, :, j], j, m - 1 - j)
            full = block if full is None else full + block
        full = full.reshape(b, (t + m - 1) * s, out)
        n_out = (t - 1) * s - 2 * self.padding + k
        full = full[:, self.padding:self.padding + n_out]
        return ops.bias_add(full.reshape(-1, out), self.bias).reshape(b, n_out, out)
