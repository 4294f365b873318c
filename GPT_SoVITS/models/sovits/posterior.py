"""PosteriorEncoder (`enc_q`, training only): the linear spectrogram -> the decoder latent z.

pre (1x1) -> WaveNet (kernel 5, dilation 1, 16 layers, conditioned on the timbre `ge`, which the
reference detaches here) -> proj -> (m_q, logs_q); z = (m_q + noise * exp(logs_q)) * mask. The noise is
an argument: the trainer draws it, the parity tests give the reference's.
"""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops

from .flow import WN
from .layers import Conv1d

# Hard-coded by the reference's SynthesizerTrn: PosteriorEncoder(spec, inter, hidden, 5, 1, 16, gin).
POSTERIOR_KERNEL = 5
POSTERIOR_DILATION_RATE = 1
POSTERIOR_LAYERS = 16


class PosteriorEncoder(nn.Cell):
    def __init__(self, in_channels: int, out_channels: int, hidden: int, gin_channels: int,
                 n_layers: int = POSTERIOR_LAYERS):
        super().__init__()
        self.out_channels = out_channels
        self.pre = Conv1d(in_channels, hidden, 1)
        self.enc = WN(hidden, POSTERIOR_KERNEL, POSTERIOR_DILATION_RATE, n_layers, gin_channels)
        self.proj = Conv1d(hidden, out_channels * 2, 1)

    def construct(self, spec: ms.Tensor, mask: ms.Tensor, g: ms.Tensor, noise: ms.Tensor):
        """spec [B, F, T], mask [B, 1, T], g [B, gin, 1], noise [B, out, T] ~ N(0, 1) -> (z, m_q, logs_q)."""
        x = self.enc(self.pre(spec) * mask, ops.stop_gradient(g), mask)
        stats = self.proj(x) * mask
        m, logs = stats[:, :self.out_channels], stats[:, self.out_channels:]
        z = (m + noise * ops.exp(logs)) * mask
        return z, m, logs
