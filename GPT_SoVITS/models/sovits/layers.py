"""Torch-named 1-D convolutions for every model (SoVITS, HuBERT); the other shared blocks are in
`models/layers.py`.

They run as MindSpore's 2-D convolution primitives over a height-1 image ([B, C, 1, T], NCHW), which every
backend provides: oneDNN on the CPU, the cube unit on Ascend. On the CPU they beat a hand-made
im2col + matmul (the transposed convolution by far), because they never materialise the k shifted
copies of the input. `mindspore.mint`'s Conv1d is not registered on the CPU backend, so these
cells call the `ops` primitives while keeping PyTorch's parameter names and layouts: a PyTorch state dict
loads by a strict name match. Parameters start at zero; real values always come from a checkpoint.
"""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops

from ..layers import zeros_parameter


class Conv1d(nn.Cell):
    """torch.nn.Conv1d: `weight` [out, in / groups, k], optional `bias` [out]; input [B, in, T]."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, groups: int = 1, bias: bool = True):
        super().__init__()
        self.args = dict(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size, stride=stride,
                         padding=padding, dilation=dilation, groups=groups, bias=bias)  # to rebuild it weight-normed
        self.weight = zeros_parameter(out_channels, in_channels // groups, kernel_size)
        self.bias = zeros_parameter(out_channels) if bias else None
        self.pointwise = kernel_size == 1 and stride == 1 and padding == 0 and groups == 1
        self._conv = ops.Conv2D(out_channels, (1, kernel_size), pad_mode="pad", pad=(0, 0, padding, padding),
                                stride=(1, stride), dilation=(1, dilation), group=groups)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.convolve(x, self.weight)

    def convolve(self, x: ms.Tensor, weight: ms.Tensor) -> ms.Tensor:
        """The convolution with `weight` (the parameter, or one computed from it: weight norm)."""
        y = self.unbiased(x, weight)
        if self.bias is None:
            return y
        if y.shape[-1] == 1:  # one frame (the timbre vector): the CPU BiasAdd gradient refuses a last axis of 1
            return y + self.bias.reshape(1, -1, 1)
        return ops.bias_add(y, self.bias)  # channel axis 1; `+` broadcasts slowly

    def kernel(self) -> ms.Tensor:
        """The weight it convolves with (a weight-normed twin computes it from weight_g / weight_v)."""
        return self.weight

    def unbiased(self, x: ms.Tensor, weight: ms.Tensor) -> ms.Tensor:
        """The convolution without its bias (for a caller that fuses the bias into its next op)."""
        if self.pointwise:  # a plain matrix product: [out, in] x [B, in, T]
            return ops.matmul(weight.squeeze(-1), x)
        return self._conv(x.expand_dims(2), weight.expand_dims(2)).squeeze(2)


class ConvTranspose1d(nn.Cell):
    """torch.nn.ConvTranspose1d: `weight` [in, out, k] (dim 0 is the *input* channel), `bias` [out].

    Output length (T - 1) * stride - 2 * padding + k, as torch's (no output_padding, no dilation)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0):
        super().__init__()
        self.args = dict(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size, stride=stride,
                         padding=padding)
        self.weight = zeros_parameter(in_channels, out_channels, kernel_size)
        self.bias = zeros_parameter(out_channels)
        self.out_channels, self.kernel_size, self.stride, self.padding = (
            out_channels, kernel_size, stride, padding)
        # The primitive's `out_channel` is the *forward* convolution's output width, i.e. our input width:
        # the forward pass ignores it, but its gradient (a Conv2D with that attribute) checks it.
        self._conv = ops.Conv2DTranspose(in_channels, (1, kernel_size), pad_mode="pad",
                                         pad=(0, 0, padding, padding), stride=(1, stride))

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.convolve(x, self.weight)

    def convolve(self, x: ms.Tensor, weight: ms.Tensor) -> ms.Tensor:
        b, _, t = x.shape
        n_out = (t - 1) * self.stride - 2 * self.padding + self.kernel_size
        y = self._conv(x.expand_dims(2), weight.expand_dims(2), (b, self.out_channels, 1, n_out))
        return ops.bias_add(y.squeeze(2), self.bias)
