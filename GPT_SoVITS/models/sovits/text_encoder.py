"""TextEncoder (`enc_p`): semantic frames + phones + timbre -> the prior's mean and log-std per frame.

ssl_proj -> encoder_ssl; phones -> text_embedding -> encoder_text; MRTE joins them with the timbre
vector; encoder2; optional time stretch (`speed`); proj -> (m_p, logs_p).
"""
from __future__ import annotations

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from .attentions import Encoder
from ..layers import Embedding
from .layers import Conv1d
from .mrte import MRTE

from .config import SSL_DIM


def linear_resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """[n_in, n_out] weights of torch's F.interpolate(mode="linear", align_corners=False) to n_out frames."""
    scale = n_in / n_out
    src = np.maximum((np.arange(n_out) + 0.5) * scale - 0.5, 0.0)
    left = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    right = np.minimum(left + 1, n_in - 1)
    frac = src - left
    matrix = np.zeros((n_in, n_out), dtype=np.float64)
    np.add.at(matrix, (left, np.arange(n_out)), 1.0 - frac)
    np.add.at(matrix, (right, np.arange(n_out)), frac)
    return matrix.astype(np.float32)


def stretch(x: ms.Tensor, speed: float) -> ms.Tensor:
    """The reference's speed control: linear resampling of [B, C, T] to int(T / speed) + 1 frames."""
    n_in = x.shape[-1]
    return ops.matmul(x, ms.Tensor(linear_resize_matrix(n_in, int(n_in / speed) + 1)))


class TextEncoder(nn.Cell):
    def __init__(self, out_channels: int, hidden: int, filter_channels: int, n_heads: int, n_layers: int,
                 kernel_size: int, n_symbols: int):
        super().__init__()
        self.out_channels = out_channels
        self.ssl_proj = Conv1d(SSL_DIM, hidden, 1)
        # encoder_ssl and encoder2 get half the layers (integer division), as in the reference.
        self.encoder_ssl = Encoder(hidden, filter_channels, n_heads, n_layers // 2, kernel_size)
        self.encoder_text = Encoder(hidden, filter_channels, n_heads, n_layers, kernel_size)
        self.text_embedding = Embedding(n_symbols, hidden)
        self.mrte = MRTE()
        self.encoder2 = Encoder(hidden, filter_channels, n_heads, n_layers // 2, kernel_size)
        self.proj = Conv1d(hidden, out_channels * 2, 1)

    def construct(self, y: ms.Tensor, text: ms.Tensor, ge: ms.Tensor, speed: float = 1.0):
        """y [B, 768, T] (50 Hz), text [B, N] phone ids, ge [B, 512, 1] -> (x, m_p, logs_p)."""
        return self.prior(self.encode(y, text, ge), speed)

    def encode(self, y: ms.Tensor, text: ms.Tensor, ge: ms.Tensor) -> ms.Tensor:
        """The frames [B, hidden, T] after encoder2: what streaming decodes window by window."""
        return self.encode_with_phones(y, self.encode_phones(text), ge)

    def encode_phones(self, text: ms.Tensor) -> ms.Tensor:
        """The phones' side of `encode` ([B, 512, N], through MRTE's `text_pre`). No semantic frame reaches
        it, so a streamed segment computes it once, not once per chunk (about half the layers)."""
        return self.mrte.text_pre(self.encoder_text(self.text_embedding(text).transpose(0, 2, 1)))

    def encode_with_phones(self, y: ms.Tensor, phones: ms.Tensor, ge: ms.Tensor) -> ms.Tensor:
        """`encode` with the phones already through `encode_phones`."""
        y = self.encoder_ssl(self.ssl_proj(y))
        return self.encoder2(self.mrte.join(y, phones, ge))

    def encode_masked(self, y: ms.Tensor, y_mask: ms.Tensor, text: ms.Tensor, text_mask: ms.Tensor,
                      ge: ms.Tensor):
        """Training's padded batch: `encode` with the frame mask [B, 1, T] and the phone mask [B, 1, N],
        then the prior's (m_p, logs_p), masked, as the reference's TextEncoder.forward."""
        y = self.ssl_proj(y * y_mask) * y_mask
        y = self.encoder_ssl(y * y_mask, y_mask)
        text = self.text_embedding(text).transpose(0, 2, 1)
        text = self.encoder_text(text * text_mask, text_mask)
        y = self.encoder2(self.mrte(y, text, ge, y_mask, text_mask) * y_mask, y_mask)
        stats = self.proj(y) * y_mask
        return stats[:, :self.out_channels], stats[:, self.out_channels:]

    def prior(self, y: ms.Tensor, speed: float = 1.0):
        """Encoded frames -> (x, m_p, logs_p), time-stretched first when `speed` is not 1."""
        if speed != 1:
            y = stretch(y, speed)
        stats = self.proj(y)
        return y, stats[:, :self.out_channels], stats[:, self.out_channels:]
