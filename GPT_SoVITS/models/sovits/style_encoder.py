"""MelStyleEncoder (`ref_enc`): the timbre vector `ge` of a reference spectrogram.

Linear spectral layers with Mish, two gated temporal convolutions, one self-attention block, a linear
projection and the mean over time. Widths are fixed by the reference (hidden 128, kernel 5, 2 heads);
only the input width (704 bins for v2, all for v1) and the output width (gin) vary.
"""
from __future__ import annotations

import math

import mindspore as ms
from mindspore import nn, ops

from ..layers import Linear, mish
from .dropout import STYLE_DROPOUT, dropout
from .layers import Conv1d

STYLE_HIDDEN = 128
STYLE_KERNEL = 5
STYLE_HEADS = 2


class LinearNorm(nn.Cell):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.fc = Linear(in_features, out_features)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.fc(x)


class Spectral(nn.Cell):
    """The reference's Sequential(Linear, Mish, Dropout, Linear, Mish, Dropout): parameters at 0 and 3."""

    def __init__(self, in_dim: int, hidden: int):
        super().__init__()
        self.insert_child_to_cell("0", LinearNorm(in_dim, hidden))
        self.insert_child_to_cell("3", LinearNorm(hidden, hidden))

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        x = dropout(mish(self._cells["0"](x)), STYLE_DROPOUT)
        return dropout(mish(self._cells["3"](x)), STYLE_DROPOUT)


class ConvNorm(nn.Cell):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = Conv1d(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.conv(x)


class Conv1dGLU(nn.Cell):
    """x + a * sigmoid(b), with [a; b] = conv(x)."""

    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.channels = channels
        self.conv1 = ConvNorm(channels, 2 * channels, kernel_size)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        y = self.conv1(x)
        return x + dropout(y[:, :self.channels] * ops.sigmoid(y[:, self.channels:]), STYLE_DROPOUT)


class StyleAttention(nn.Cell):
    """Multi-head self-attention on [B, T, C] with a residual; scores are scaled by sqrt(C), not by
    sqrt(C / heads) (the reference's temperature is the model width)."""

    def __init__(self, n_heads: int, d_model: int):
        super().__init__()
        self.n_heads = n_heads
        self.d_k = d_model // n_heads
        self.temperature = math.sqrt(d_model)
        self.w_qs = Linear(d_model, d_model)
        self.w_ks = Linear(d_model, d_model)
        self.w_vs = Linear(d_model, d_model)
        self.fc = Linear(d_model, d_model)

    def _heads(self, x: ms.Tensor) -> ms.Tensor:
        b, t, _ = x.shape
        return x.reshape(b, t, self.n_heads, self.d_k).transpose(0, 2, 1, 3)

    def construct(self, x: ms.Tensor, padding: ms.Tensor | None = None) -> ms.Tensor:
        """x [B, T, C]; `padding` [B, T] (True at padded frames): those keys get no weight."""
        b, t, c = x.shape
        q, k, v = self._heads(self.w_qs(x)), self._heads(self.w_ks(x)), self._heads(self.w_vs(x))
        scores = ops.matmul(q, k.transpose(0, 1, 3, 2)) / self.temperature
        if padding is not None:
            scores = ops.masked_fill(scores, padding.reshape(b, 1, 1, t), ms.Tensor(float("-inf"), scores.dtype))
        p_attn = dropout(ops.softmax(scores, -1), STYLE_DROPOUT)
        out = ops.matmul(p_attn, v).transpose(0, 2, 1, 3).reshape(b, t, c)
        return dropout(self.fc(out), STYLE_DROPOUT) + x


class MelStyleEncoder(nn.Cell):
    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.spectral = Spectral(in_dim, STYLE_HIDDEN)
        self.temporal = nn.CellList([Conv1dGLU(STYLE_HIDDEN, STYLE_KERNEL) for _ in range(2)])
        self.slf_attn = StyleAttention(STYLE_HEADS, STYLE_HIDDEN)
        self.fc = LinearNorm(STYLE_HIDDEN, out_dim)

    def construct(self, spec: ms.Tensor, mask: ms.Tensor | None = None) -> ms.Tensor:
        """spec [B, F, T] -> ge [B, out_dim, 1]; `mask` [B, 1, T] (training's padded batches): padded
        frames are zeroed before the attention, hidden from it as keys, and left out of the mean."""
        x = self.spectral(spec.transpose(0, 2, 1)).transpose(0, 2, 1)
        for glu in self.temporal:
            x = glu(x)
        x = x.transpose(0, 2, 1)  # [B, T, C]
        if mask is None:
            return self.fc(self.slf_attn(x)).mean(1).expand_dims(-1)
        valid = mask.squeeze(1).expand_dims(-1)  # [B, T, 1]
        x = self.fc(self.slf_attn(x * valid, mask.squeeze(1) == 0))
        # As the reference: each frame divided by the length, then summed.
        return (x * valid / ops.sum(valid, 1, keepdim=True)).sum(1).expand_dims(-1)
