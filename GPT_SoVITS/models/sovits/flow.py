"""The normalising flow between the text prior and the decoder latent, run in reverse at inference.

Four mean-only affine coupling layers, each followed by a channel flip. A coupling layer keeps the first
half of the channels and shifts the second half by a WaveNet-style function of the first half and the
timbre vector `g`. Weight-normalised convolutions arrive already folded (see `weight_norm.py`); training
keeps them as pairs (`weight_norm_cells.py`) and runs the flow forwards with the frame mask.
"""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops

from ..layers import tanh
from .layers import Conv1d

# Hard-coded by the reference's SynthesizerTrn: ResidualCouplingBlock(inter, hidden, 5, 1, 4, gin).
FLOW_KERNEL = 5
FLOW_DILATION_RATE = 1
FLOW_WN_LAYERS = 4
N_FLOWS = 4


def gated_activation(x: ms.Tensor, n_channels: int) -> ms.Tensor:
    return tanh(x[:, :n_channels]) * ops.sigmoid(x[:, n_channels:])


class WN(nn.Cell):
    """Non-causal WaveNet: dilated gated convolutions with global conditioning, residual and skip paths."""

    def __init__(self, hidden: int, kernel_size: int, dilation_rate: int, n_layers: int, gin_channels: int):
        super().__init__()
        self.hidden = hidden
        self.n_layers = n_layers
        self.cond_layer = Conv1d(gin_channels, 2 * hidden * n_layers, 1) if gin_channels else None
        in_layers, res_skip_layers = [], []
        for i in range(n_layers):
            dilation = dilation_rate ** i
            padding = (kernel_size * dilation - dilation) // 2
            in_layers.append(Conv1d(hidden, 2 * hidden, kernel_size, dilation=dilation, padding=padding))
            # The last layer feeds the skip path only.
            res_skip_layers.append(Conv1d(hidden, 2 * hidden if i < n_layers - 1 else hidden, 1))
        self.in_layers = nn.CellList(in_layers)
        self.res_skip_layers = nn.CellList(res_skip_layers)

    def construct(self, x: ms.Tensor, g: ms.Tensor | None, mask: ms.Tensor | None = None) -> ms.Tensor:
        """`mask` [B, 1, T] (training): the residual path and the output are zeroed past each length."""
        g_all = self.cond_layer(g) if self.cond_layer is not None else None
        output = None
        for i in range(self.n_layers):
            x_in = self.in_layers[i](x)
            if g_all is not None:
                x_in = x_in + g_all[:, 2 * self.hidden * i:2 * self.hidden * (i + 1)]
            res_skip = self.res_skip_layers[i](gated_activation(x_in, self.hidden))
            if i < self.n_layers - 1:
                x = x + res_skip[:, :self.hidden]
                if mask is not None:
                    x = x * mask
                skip = res_skip[:, self.hidden:]
            else:
                skip = res_skip
            output = skip if output is None else output + skip
        return output if mask is None else output * mask


class ResidualCouplingLayer(nn.Cell):
    """Mean-only coupling: x1 -> x1 - m(x0) in reverse (the scale is exp(0) = 1)."""

    def __init__(self, channels: int, hidden: int, gin_channels: int):
        super().__init__()
        self.half = channels // 2
        self.pre = Conv1d(self.half, hidden, 1)
        self.enc = WN(hidden, FLOW_KERNEL, FLOW_DILATION_RATE, FLOW_WN_LAYERS, gin_channels)
        self.post = Conv1d(hidden, self.half, 1)

    def construct(self, x: ms.Tensor, g: ms.Tensor | None) -> ms.Tensor:
        x0, x1 = x[:, :self.half], x[:, self.half:]
        m = self.post(self.enc(self.pre(x0), g))
        return ops.cat([x0, x1 - m], 1)

    def couple(self, x: ms.Tensor, mask: ms.Tensor, g: ms.Tensor | None) -> ms.Tensor:
        """The training direction: x1 -> m(x0) + x1, masked (logdet is 0 for mean-only layers)."""
        x0, x1 = x[:, :self.half], x[:, self.half:]
        h = self.enc(self.pre(x0) * mask, g, mask)
        return ops.cat([x0, self.post(h) * mask + x1 * mask], 1)


class Flip(nn.Cell):
    def construct(self, x: ms.Tensor, g: ms.Tensor | None = None) -> ms.Tensor:
        return ops.flip(x, (1,))


class ResidualCouplingBlock(nn.Cell):
    """`flows` alternates coupling layers (even indices, with parameters) and flips (odd indices)."""

    def __init__(self, channels: int, hidden: int, gin_channels: int):
        super().__init__()
        cells: list[nn.Cell] = []
        for _ in range(N_FLOWS):
            cells += [ResidualCouplingLayer(channels, hidden, gin_channels), Flip()]
        self.flows = nn.CellList(cells)

    def to_prior(self, z: ms.Tensor, mask: ms.Tensor, g: ms.Tensor | None) -> ms.Tensor:
        """z (posterior latent) -> z_p (the prior's space), as the reference's `flow(z, y_mask, g)`."""
        for i, flow in enumerate(self.flows):
            z = flow.couple(z, mask, g) if i % 2 == 0 else flow(z)
        return z

    def reverse(self, z: ms.Tensor, g: ms.Tensor | None) -> ms.Tensor:
        for flow in reversed(list(self.flows)):
            z = flow(z, g)
        return z
