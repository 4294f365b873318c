"""Torch-named convolutions that run on every MindSpore backend (the other shared blocks are in
`models/layers.py`).

Several `mindspore.mint` kernels (Conv1d, LayerNorm, Embedding, LeakyReLU, ...) are not registered on the
CPU backend, so these cells call the older `ops` primitives while keeping PyTorch's parameter names and
layouts: a PyTorch state dict then loads by a strict name match. Parameters start at zero; real values
always come from a checkpoint.
"""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops

from ..layers import zero_pad, zeros_parameter


class Conv1d(nn.Cell):
    """torch.nn.Conv1d: `weight` [out, in / groups, k], optional `bias` [out].

    Computed as one matrix product over the stacked kernel taps (im2col): MindSpore's CPU convolution
    kernels are 10-30x slower than its matmul at these sizes, and a matmul runs well on every backend.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, groups: int = 1, bias: bool = True):
        super().__init__()
        self.weight = zeros_parameter(out_channels, in_channels // groups, kernel_size)
        self.bias = zeros_parameter(out_channels) if bias else None
        self.out_channels, self.kernel_size = out_channels, kernel_size
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        if self.kernel_size == 1 and self.stride == 1 and self.padding == 0 and self.groups == 1:
            y = ops.matmul(self.weight.squeeze(-1), x)
        else:
            # im2col: [B, C * k, L_out], row c * k + j = channel c under kernel tap j.
            cols = ops.unfold(x.expand_dims(2), (1, self.kernel_size), dilation=(1, self.dilation),
                              padding=(0, self.padding), stride=(1, self.stride))
            b, rows, n = cols.shape
            g = self.groups
            w = self.weight.reshape(g, self.out_channels // g, rows // g)
            y = ops.matmul(w, cols.reshape(b, g, rows // g, n)).reshape(b, self.out_channels, n)
        return y if self.bias is None else ops.bias_add(y, self.bias)  # channel axis 1; `+` broadcasts slowly


class ConvTranspose1d(nn.Cell):
    """torch.nn.ConvTranspose1d: `weight` [in, out, k] (dim 0 is the *input* channel), `bias` [out].

    Polyphase form: one matmul gives every tap's contribution [B, out, k, T]; the taps, padded to a
    multiple m of the stride, are overlap-added as m shifted [B, out, stride, T] blocks.
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
        b, c, t = x.shape
        k, s, m = self.kernel_size, self.stride, self.n_blocks
        taps = ops.matmul(self.weight.reshape(c, -1).T, x).reshape(b, self.out_channels, k, t)
        if m * s > k:
            taps = zero_pad(taps, 2, 0, m * s - k)
        taps = taps.reshape(b, self.out_channels, m, s, t)
        full = None
        for j in range(m):  # block j lands j input frames later
            block = taps[:, :, j]
            if m > 1:
                block = zero_pad(block, -1, j, m - 1 - j)
            full = block if full is None else full + block
        full = full.transpose(0, 1, 3, 2).reshape(b, self.out_channels, (t + m - 1) * s)
        n_out = (t - 1) * s - 2 * self.padding + k
        return ops.bias_add(full[:, :, self.padding:self.padding + n_out], self.bias)
