"""The HiFi-GAN generator (`dec`): latent frames -> waveform, built from `hps.model`.

conv_pre, then per upsampling stage a leaky ReLU, a transposed convolution (rate u, kernel k,
padding (k - u) // 2, channels halved) and the average of the multi-receptive-field residual blocks;
finally leaky ReLU (torch's default slope 0.01), conv_post without bias and tanh. v2ProPlus differs
from v2Pro only through these config values (initial channels, first kernel size).

`mask` (optional, [B, 1, T] of 0/1 per input frame) lets a longer, zero-padded input give exactly the
output of the unpadded one: every convolution's output is zeroed past the true length, so the next
convolution reads zeros there, as the reference's zero padding, and bias or leakage never spread back.
The compiled decoder (`compiled.py`) uses it to share one graph between lengths.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import mindspore as ms
from mindspore import nn, ops

from ..layers import tanh
from .fused import FusedOps, fused_ops, slope_tensor
from .layers import Conv1d, ConvTranspose1d

LRELU_SLOPE = 0.1
FINAL_LRELU_SLOPE = 0.01  # F.leaky_relu's default, used once before conv_post


@dataclass(frozen=True)
class GeneratorDims:
    initial_channel: int
    resblock: str
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    upsample_rates: tuple[int, ...]
    upsample_initial_channel: int
    upsample_kernel_sizes: tuple[int, ...]
    gin_channels: int


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


def receptive_radius(dims: GeneratorDims) -> int:
    """Latent frames each side of a frame that can change its audio (the windowed decoder's overlap).

    Each layer's reach in its own samples, divided by that stage's samples per latent frame, summed:
    conv_pre (kernel 7), per stage the transposed conv (input sample m reaches outputs up to
    max(padding, k - padding) / u input samples away) and the widest resblock (each conv (k-1)*d/2),
    then conv_post (kernel 7). One frame more covers where a sample lies inside its frame."""
    reach = same_padding(7)
    per_frame = 1
    for u, k in zip(dims.upsample_rates, dims.upsample_kernel_sizes):
        padding = (k - u) // 2
        reach += max(padding, k - padding) / u / per_frame
        per_frame *= u
        reach += max(_resblock_reach(dims.resblock, k, d)
                     for k, d in zip(dims.resblock_kernel_sizes, dims.resblock_dilation_sizes)) / per_frame
    reach += same_padding(7) / per_frame
    return math.ceil(reach) + 1


def _resblock_reach(resblock: str, kernel_size: int, dilations: tuple[int, ...]) -> int:
    if resblock == "1":  # a dilated conv then a plain conv per dilation
        return sum(same_padding(kernel_size, d) + same_padding(kernel_size) for d in dilations)
    return sum(same_padding(kernel_size, d) for d in dilations[:2])


def masked(x: ms.Tensor, mask: ms.Tensor | None) -> ms.Tensor:
    return x if mask is None else x * mask


def channel_mask(mask: ms.Tensor | None, channels: int) -> ms.Tensor | None:
    """A frame mask [B, 1, T] repeated over `channels`: multiplying by a tensor of the same shape is ~5x
    cheaper on the CPU backend than a broadcast over the channel axis."""
    return None if mask is None else ops.tile(mask, (1, channels, 1))


def upsample_mask(mask: ms.Tensor, rate: int) -> ms.Tensor:
    """A frame mask [B, 1, T] at `rate` times the resolution: [B, 1, T * rate]."""
    b, c, t = mask.shape
    return ops.broadcast_to(mask.expand_dims(3), (b, c, t, rate)).reshape(b, c, t * rate)


class ResBlock1(nn.Cell):
    """Three pairs (dilated conv, plain conv), each pair a residual branch behind leaky ReLUs."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...], fused: FusedOps | None = None):
        super().__init__()
        self.convs1 = nn.CellList([Conv1d(channels, channels, kernel_size, dilation=d,
                                          padding=same_padding(kernel_size, d)) for d in dilations])
        self.convs2 = nn.CellList([
            Conv1d(channels, channels, kernel_size, padding=same_padding(kernel_size))
            for _ in dilations])
        self.fused = fused
        self.slope = slope_tensor(LRELU_SLOPE)

    def construct(self, x: ms.Tensor, mask: ms.Tensor | None = None) -> ms.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            xt = masked(c1(ops.leaky_relu(x, LRELU_SLOPE)), mask)
            x = x + masked(c2(ops.leaky_relu(xt, LRELU_SLOPE)), mask)
        return x

    def fused_forward(self, x: ms.Tensor, activated: ms.Tensor) -> ms.Tensor:
        """`construct` without a mask through the fused kernels; `activated` is leaky_relu(x), which the
        generator computes once for its three resblocks."""
        f = self.fused
        for i in range(len(self.convs1)):
            if i > 0:
                activated = f.leaky_relu(x, self.slope)
            c1, c2 = self.convs1[i], self.convs2[i]
            xt = f.bias_leaky_relu(c1.unbiased(activated, c1.kernel()), c1.bias, self.slope)
            x = f.bias_residual(x, c2.unbiased(xt, c2.kernel()), c2.bias)
        return x


class ResBlock2(nn.Cell):
    """Two dilated convs, each a residual branch behind a leaky ReLU."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...], fused: FusedOps | None = None):
        super().__init__()
        self.convs = nn.CellList([Conv1d(channels, channels, kernel_size, dilation=d,
                                         padding=same_padding(kernel_size, d)) for d in dilations[:2]])
        self.fused = fused
        self.slope = slope_tensor(LRELU_SLOPE)

    def construct(self, x: ms.Tensor, mask: ms.Tensor | None = None) -> ms.Tensor:
        for conv in self.convs:
            x = x + masked(conv(ops.leaky_relu(x, LRELU_SLOPE)), mask)
        return x

    def fused_forward(self, x: ms.Tensor, activated: ms.Tensor) -> ms.Tensor:
        """As `ResBlock1.fused_forward`."""
        f = self.fused
        for i in range(len(self.convs)):
            if i > 0:
                activated = f.leaky_relu(x, self.slope)
            conv = self.convs[i]
            x = f.bias_residual(x, conv.unbiased(activated, conv.kernel()), conv.bias)
        return x


class Generator(nn.Cell):
    def __init__(self, dims: GeneratorDims):
        super().__init__()
        c0 = dims.upsample_initial_channel
        self.dims = dims
        self.n_kernels = len(dims.resblock_kernel_sizes)
        self.upsample_rates = dims.upsample_rates
        self.fused = fused_ops()  # None: MindSpore's ops (not the CPU backend, or no compiler)
        self.slope, self.final_slope = slope_tensor(LRELU_SLOPE), slope_tensor(FINAL_LRELU_SLOPE)
        self.conv_pre = Conv1d(dims.initial_channel, c0, 7, padding=3)
        self.ups = nn.CellList([
            ConvTranspose1d(c0 // 2 ** i, c0 // 2 ** (i + 1), k, u, padding=(k - u) // 2)
            for i, (u, k) in enumerate(zip(dims.upsample_rates, dims.upsample_kernel_sizes))])
        block = ResBlock1 if dims.resblock == "1" else ResBlock2
        self.resblocks = nn.CellList([
            block(c0 // 2 ** (i + 1), k, tuple(d), self.fused)
            for i in range(len(dims.upsample_rates))
            for k, d in zip(dims.resblock_kernel_sizes, dims.resblock_dilation_sizes)])
        self.conv_post = Conv1d(c0 // 2 ** len(dims.upsample_rates), 1, 7, padding=3, bias=False)
        self.cond = Conv1d(dims.gin_channels, c0, 1) if dims.gin_channels else None

    def construct(self, x: ms.Tensor, g: ms.Tensor | None = None, mask: ms.Tensor | None = None,
                  inference: bool = False) -> ms.Tensor:
        """x [B, inter, T] -> audio [B, 1, T * prod(upsample_rates)]; `mask` [B, 1, T], see above.
        `inference=True` (no gradient needed) lets an unmasked call run through the fused kernels."""
        x = self.conv_pre(x)
        if self.cond is not None and g is not None:
            x = x + self.cond(g)  # [B, C, 1]: the same for every frame
        if inference and self.fused is not None and mask is None:  # the kernels have no gradient
            return self._fused_stages(x)
        x = masked(x, channel_mask(mask, x.shape[1]))
        for i, up in enumerate(self.ups):
            if mask is not None:
                mask = upsample_mask(mask, self.upsample_rates[i])
            x = up(ops.leaky_relu(x, LRELU_SLOPE))
            stage_mask = channel_mask(mask, x.shape[1])
            x = masked(x, stage_mask)
            # Indexed, not sliced: a CellList slice is a new CellList, which renames the parameters.
            xs = self.resblocks[i * self.n_kernels](x, stage_mask)
            for j in range(1, self.n_kernels):
                xs = xs + self.resblocks[i * self.n_kernels + j](x, stage_mask)
            x = xs * (1.0 / self.n_kernels)  # a broadcast division costs far more on the CPU
        return tanh(self.conv_post(ops.leaky_relu(x, FINAL_LRELU_SLOPE)))  # [B, 1, T * hop]

    def _fused_stages(self, x: ms.Tensor) -> ms.Tensor:
        """The upsampling stages and conv_post through the fused kernels (`fused.py`): the same arithmetic,
        ~3x fewer passes over memory; each stage's leaky ReLU is computed once for its resblocks."""
        f = self.fused
        activated = f.leaky_relu(x, self.slope)
        for i, up in enumerate(self.ups):
            x = up(activated)
            activated = f.leaky_relu(x, self.slope)
            branches = ()
            for j in range(self.n_kernels):
                branches = branches + (self.resblocks[i * self.n_kernels + j].fused_forward(x, activated),)
            last = i == len(self.ups) - 1
            activated = f.mean_leaky_relu(self.final_slope if last else self.slope, branches)
        return tanh(self.conv_post(activated))  # [B, 1, T * hop]
