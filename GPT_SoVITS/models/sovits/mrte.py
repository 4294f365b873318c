"""MRTE, the multi-reference timbre encoder: content frames attend to the phones, plus the timbre vector."""
from __future__ import annotations

import mindspore as ms
from mindspore import nn

from .attentions import MultiHeadAttention
from .layers import Conv1d

# The reference builds `MRTE()` with its defaults, whatever the model config says; these widths are why
# SoVITS needs hidden_channels 192 and a 512-wide timbre vector (`ge_to512` provides it for v2Pro).
CONTENT_CHANNELS = 192
HIDDEN_SIZE = 512
N_HEADS = 4


class MRTE(nn.Cell):
    def __init__(self):
        super().__init__()
        self.cross_attention = MultiHeadAttention(HIDDEN_SIZE, HIDDEN_SIZE, N_HEADS)
        self.c_pre = Conv1d(CONTENT_CHANNELS, HIDDEN_SIZE, 1)
        self.text_pre = Conv1d(CONTENT_CHANNELS, HIDDEN_SIZE, 1)
        self.c_post = Conv1d(HIDDEN_SIZE, CONTENT_CHANNELS, 1)

    def construct(self, ssl_enc: ms.Tensor, text: ms.Tensor, ge: ms.Tensor, ssl_mask: ms.Tensor | None = None,
                  text_mask: ms.Tensor | None = None) -> ms.Tensor:
        """ssl_enc [B, 192, T], text [B, 192, N], ge [B, 512, 1] -> [B, 192, T]; the masks [B, 1, T] and
        [B, 1, N] come with training's padded batches (both or neither)."""
        if ssl_mask is None:
            return self.join(ssl_enc, self.text_pre(text), ge)
        attn_mask = text_mask.expand_dims(2) * ssl_mask.expand_dims(-1)
        ssl_enc = self.c_pre(ssl_enc * ssl_mask)
        text_enc = self.text_pre(text * text_mask)
        x = self.cross_attention(ssl_enc * ssl_mask, text_enc * text_mask, attn_mask) + ssl_enc + ge
        return self.c_post(x * ssl_mask)

    def join(self, ssl_enc: ms.Tensor, text_enc: ms.Tensor, ge: ms.Tensor) -> ms.Tensor:
        """Inference's `construct` with the phones' side already through `text_pre` ([B, 512, N])."""
        ssl_enc = self.c_pre(ssl_enc)
        x = self.cross_attention(ssl_enc, text_enc) + ssl_enc + ge
        return self.c_post(x)
