"""The multi-period discriminator of SoVITS training (the reference's MultiPeriodDiscriminator).

One scale discriminator on the raw waveform (grouped 1-D convolutions) and one period discriminator per
period (the waveform folded into [T / p, p] and convolved along time with (k, 1) kernels); every layer
is weight-normalised (`use_spectral_norm` is false in every released config) and followed by a leaky
ReLU (0.1) whose output is a feature map for the feature-matching loss. v2Pro / v2ProPlus add the
periods 17 and 23. Widths default to the reference's; the parity tests use narrower ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import mindspore as ms
from mindspore import nn, ops

from ... import versions
from ..layers import zeros_parameter
from .weight_norm_cells import WNConv1d, normalized_weight

LRELU_SLOPE = 0.1
PERIODS = (2, 3, 5, 7, 11)
PRO_PERIODS = PERIODS + (17, 23)
# DiscriminatorS: (kernel, stride, padding) per layer; groups and widths are in DiscriminatorDims.
SCALE_LAYERS = ((15, 1, 7), (41, 4, 20), (41, 4, 20), (41, 4, 20), (41, 4, 20), (5, 1, 2))
PERIOD_KERNEL, PERIOD_STRIDE = 5, 3


@dataclass(frozen=True)
class DiscriminatorDims:
    scale_channels: tuple[int, ...] = (16, 64, 256, 1024, 1024, 1024)
    scale_groups: tuple[int, ...] = (1, 4, 16, 64, 256, 1)
    period_channels: tuple[int, ...] = (32, 128, 512, 1024, 1024)


def periods_for(version: str) -> tuple[int, ...]:
    return PRO_PERIODS if versions.is_pro(version) else PERIODS


class WNConv2d(nn.Cell):
    """Weight-normalised torch.nn.Conv2d with a (k, 1) kernel: `weight_g` [out, 1, 1, 1], `weight_v`, `bias`."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, padding: int):
        super().__init__()
        self.weight_g = zeros_parameter(out_channels, 1, 1, 1)
        self.weight_v = zeros_parameter(out_channels, in_channels, kernel, 1)
        self.bias = zeros_parameter(out_channels)
        self._conv = ops.Conv2D(out_channels, (kernel, 1), pad_mode="pad", pad=(padding, padding, 0, 0),
                                stride=(stride, 1))

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return ops.bias_add(self._conv(x, normalized_weight(self.weight_g, self.weight_v)), self.bias)


class DiscriminatorS(nn.Cell):
    def __init__(self, dims: DiscriminatorDims):
        super().__init__()
        widths = (1,) + dims.scale_channels
        self.convs = nn.CellList([
            WNConv1d(widths[i], widths[i + 1], k, stride=s, padding=p, groups=dims.scale_groups[i])
            for i, (k, s, p) in enumerate(SCALE_LAYERS)])
        self.conv_post = WNConv1d(widths[-1], 1, 3, padding=1)

    def construct(self, x: ms.Tensor):
        """x [B, 1, T] -> (scores [B, n], feature maps)."""
        fmap = []
        for conv in self.convs:
            x = ops.leaky_relu(conv(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return x.reshape(x.shape[0], -1), fmap


def reflect_pad_right(x: ms.Tensor, n: int) -> ms.Tensor:
    """F.pad(x, (0, n), "reflect") on the last axis: x[T-2], x[T-3], ... appended."""
    t = x.shape[-1]
    return ops.concat([x, ops.flip(x[..., t - 1 - n:t - 1], (-1,))], -1)


class DiscriminatorP(nn.Cell):
    def __init__(self, period: int, dims: DiscriminatorDims):
        super().__init__()
        self.period = period
        widths = (1,) + dims.period_channels
        n = len(dims.period_channels)
        self.convs = nn.CellList([
            WNConv2d(widths[i], widths[i + 1], PERIOD_KERNEL, PERIOD_STRIDE if i < n - 1 else 1,
                     (PERIOD_KERNEL - 1) // 2)
            for i in range(n)])
        self.conv_post = WNConv2d(widths[-1], 1, 3, 1, 1)

    def construct(self, x: ms.Tensor):
        b, c, t = x.shape
        if t % self.period:
            n_pad = self.period - t % self.period
            x = reflect_pad_right(x, n_pad)
            t += n_pad
        x = x.reshape(b, c, t // self.period, self.period)
        fmap = []
        for conv in self.convs:
            x = ops.leaky_relu(conv(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return x.reshape(b, -1), fmap


class MultiPeriodDiscriminator(nn.Cell):
    """`discriminators.0` is the scale discriminator, then one per period (the reference's order)."""

    def __init__(self, version: str, dims: DiscriminatorDims = DiscriminatorDims()):
        super().__init__()
        self.discriminators = nn.CellList(
            [DiscriminatorS(dims)] + [DiscriminatorP(p, dims) for p in periods_for(version)])

    def construct(self, y: ms.Tensor, y_hat: ms.Tensor):
        """-> (scores of y, scores of y_hat, feature maps of y, feature maps of y_hat), one per discriminator."""
        real, fake, fmap_real, fmap_fake = [], [], [], []
        for disc in self.discriminators:
            r, fr = disc(y)
            g, fg = disc(y_hat)
            real.append(r)
            fake.append(g)
            fmap_real.append(fr)
            fmap_fake.append(fg)
        return real, fake, fmap_real, fmap_fake
