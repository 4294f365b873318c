"""The VITS transformer encoder: post-norm layers, relative-position self-attention, convolutional FFN.

Inference decodes one utterance at a time: every sequence has its full length, the reference's masks are
all ones and are left out (multiplying by one changes nothing). Training batches padded sequences and
passes the masks ([B, 1, T] of 0/1), applied where the reference applies them.
"""
from __future__ import annotations

import math

import mindspore as ms
from mindspore import nn, ops

from ..layers import zero_pad, zeros_parameter
from .dropout import dropout
from .layers import Conv1d

MASKED_SCORE = -1e4  # the reference's fill for masked attention scores


class ChannelLayerNorm(nn.Cell):
    """LayerNorm over the channel axis of [B, C, T]; parameters `gamma` / `beta` as in VITS."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.gamma = zeros_parameter(channels)
        self.beta = zeros_parameter(channels)
        self._norm = ops.LayerNorm(begin_norm_axis=-1, begin_params_axis=-1, epsilon=eps)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        y = self._norm(x.transpose(0, 2, 1), self.gamma, self.beta)[0]
        return y.transpose(0, 2, 1)


class MultiHeadAttention(nn.Cell):
    """Attention on [B, C, T] with 1x1 convolutions; with `window_size`, Shaw-style relative positions
    (one table shared by all heads, offsets clipped to +-window) added to both keys and values."""

    def __init__(self, channels: int, out_channels: int, n_heads: int, window_size: int | None = None):
        super().__init__()
        self.n_heads = n_heads
        self.k_channels = channels // n_heads
        self.window_size = window_size
        self.p_dropout = 0.0  # training sets the config's rate (see dropout.py)
        self.conv_q = Conv1d(channels, channels, 1)
        self.conv_k = Conv1d(channels, channels, 1)
        self.conv_v = Conv1d(channels, channels, 1)
        self.conv_o = Conv1d(channels, out_channels, 1)
        if window_size is not None:
            self.emb_rel_k = zeros_parameter(1, 2 * window_size + 1, self.k_channels)
            self.emb_rel_v = zeros_parameter(1, 2 * window_size + 1, self.k_channels)

    def construct(self, x: ms.Tensor, c: ms.Tensor, attn_mask: ms.Tensor | None = None) -> ms.Tensor:
        return self.conv_o(self.attention(self.conv_q(x), self.conv_k(c), self.conv_v(c), attn_mask))

    def _heads(self, x: ms.Tensor) -> ms.Tensor:
        b, _, t = x.shape  # [B, C, T] -> [B, H, T, C/H]
        return x.reshape(b, self.n_heads, self.k_channels, t).transpose(0, 1, 3, 2)

    def attention(self, query: ms.Tensor, key: ms.Tensor, value: ms.Tensor,
                  mask: ms.Tensor | None = None) -> ms.Tensor:
        """`mask` [B, 1, T_t, T_s]: scores where it is 0 become -1e4 (the reference's masked_fill)."""
        b, d, t_t = query.shape
        t_s = key.shape[2]
        q = self._heads(query) / math.sqrt(self.k_channels)
        k, v = self._heads(key), self._heads(value)
        scores = ops.matmul(q, k.transpose(0, 1, 3, 2))
        if self.window_size is not None:
            rel_k = self._relative_embeddings(self.emb_rel_k, t_s)
            rel_logits = ops.matmul(q, rel_k.expand_dims(0).transpose(0, 1, 3, 2))
            scores = scores + _relative_to_absolute(rel_logits)
        if mask is not None:
            scores = ops.masked_fill(scores, mask == 0, ms.Tensor(MASKED_SCORE, scores.dtype))
        p_attn = dropout(ops.softmax(scores, -1), self.p_dropout)
        out = ops.matmul(p_attn, v)
        if self.window_size is not None:
            rel_v = self._relative_embeddings(self.emb_rel_v, t_s)
            out = out + ops.matmul(_absolute_to_relative(p_attn), rel_v.expand_dims(0))
        return out.transpose(0, 1, 3, 2).reshape(b, d, t_t)

    def _relative_embeddings(self, table: ms.Tensor, length: int) -> ms.Tensor:
        """The 2*length-1 offsets -(length-1)..(length-1): the table, zero beyond the window."""
        w = self.window_size
        pad = max(length - (w + 1), 0)
        start = max((w + 1) - length, 0)
        if pad > 0:
            table = zero_pad(table, 1, pad, pad)
        return table[:, start:start + 2 * length - 1]


def _relative_to_absolute(x: ms.Tensor) -> ms.Tensor:
    """[B, H, L, 2L-1] indexed by offset -> [B, H, L, L] indexed by key position (pad-and-reshape skew)."""
    b, h, length, _ = x.shape
    x = zero_pad(x, -1, 0, 1).reshape(b, h, length * 2 * length)
    x = zero_pad(x, -1, 0, length - 1).reshape(b, h, length + 1, 2 * length - 1)
    return x[:, :, :length, length - 1:]


def _absolute_to_relative(x: ms.Tensor) -> ms.Tensor:
    """[B, H, L, L] -> [B, H, L, 2L-1], the inverse skew of `_relative_to_absolute`."""
    b, h, length, _ = x.shape
    x = zero_pad(x, -1, 0, length - 1).reshape(b, h, length * (2 * length - 1))
    x = zero_pad(x, -1, length, 0).reshape(b, h, length, 2 * length)
    return x[:, :, :, 1:]


class FFN(nn.Cell):
    """conv -> ReLU -> conv with 'same' padding (left (k-1)//2, right k//2)."""

    def __init__(self, in_channels: int, out_channels: int, filter_channels: int, kernel_size: int):
        super().__init__()
        self.conv_1 = Conv1d(in_channels, filter_channels, kernel_size)
        self.conv_2 = Conv1d(filter_channels, out_channels, kernel_size)
        self.pad = ((kernel_size - 1) // 2, kernel_size // 2)
        self.p_dropout = 0.0

    def _same(self, x: ms.Tensor) -> ms.Tensor:
        return zero_pad(x, -1, *self.pad)

    def construct(self, x: ms.Tensor, mask: ms.Tensor | None = None) -> ms.Tensor:
        if mask is None:
            x = ops.relu(self.conv_1(self._same(x)))
            return self.conv_2(self._same(x))
        x = dropout(ops.relu(self.conv_1(self._same(x * mask))), self.p_dropout)
        return self.conv_2(self._same(x * mask)) * mask


class Encoder(nn.Cell):
    """Post-norm transformer layers: x = norm1(x + attn(x)); x = norm2(x + ffn(x))."""

    def __init__(self, hidden_channels: int, filter_channels: int, n_heads: int, n_layers: int,
                 kernel_size: int = 1, window_size: int = 4):
        super().__init__()
        self.attn_layers = nn.CellList(
            [MultiHeadAttention(hidden_channels, hidden_channels, n_heads, window_size) for _ in range(n_layers)])
        self.norm_layers_1 = nn.CellList([ChannelLayerNorm(hidden_channels) for _ in range(n_layers)])
        self.ffn_layers = nn.CellList(
            [FFN(hidden_channels, hidden_channels, filter_channels, kernel_size) for _ in range(n_layers)])
        self.norm_layers_2 = nn.CellList([ChannelLayerNorm(hidden_channels) for _ in range(n_layers)])
        self.p_dropout = 0.0

    def set_dropout(self, rate: float) -> None:
        """The reference's p_dropout, used in training (after attention and FFN, on the attention
        weights, inside the FFN)."""
        self.p_dropout = rate
        for attn, ffn in zip(self.attn_layers, self.ffn_layers):
            attn.p_dropout = ffn.p_dropout = rate

    def construct(self, x: ms.Tensor, mask: ms.Tensor | None = None) -> ms.Tensor:
        """x [B, C, T]; `mask` [B, 1, T] (training's padded batches) or None (all frames valid)."""
        attn_mask = None if mask is None else mask.expand_dims(2) * mask.expand_dims(-1)
        if mask is not None:
            x = x * mask
        for attn, norm_1, ffn, norm_2 in zip(self.attn_layers, self.norm_layers_1, self.ffn_layers,
                                             self.norm_layers_2):
            x = norm_1(x + dropout(attn(x, x, attn_mask), self.p_dropout))
            x = norm_2(x + dropout(ffn(x, mask), self.p_dropout))
        return x if mask is None else x * mask
