"""SynthesizerTrain: the SoVITS generator as the reference trains it (`SynthesizerTrn.forward`).

The inference model plus the posterior encoder `enc_q`, with the reference's weight-normalised
convolutions kept as (weight_g, weight_v) pairs, so its parameters are the reference's state-dict keys
(a pretrained G loads by a strict name match and an export is what the reference writes). One forward:
timbre `ge` from the spectrogram (masked) and, for Pro versions, the speaker-verification embedding;
the frozen quantiser (ssl_proj + codebook, no gradient: `freeze_quantizer`, the quantiser in eval mode,
commitment loss 0); the text encoder's prior; the posterior z; the flow z -> z_p; a random segment of z
through the generator. The random draws (the posterior's noise, the segment starts) are arguments.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import mindspore as ms
from mindspore import ops

from .config import SoVITSConfig
from .posterior import POSTERIOR_LAYERS, PosteriorEncoder
from .synthesizer import SynthesizerTrn
from .weight_norm_cells import weight_normed

# The convolutions the reference wraps in torch.nn.utils.weight_norm (cell names, shell patterns):
# the generator's upsamplers and residual blocks, and every WaveNet (the flow's and enc_q's).
WEIGHT_NORMED = ("dec.ups.*", "dec.resblocks.*.convs*.*", "*.enc.cond_layer", "*.enc.in_layers.*",
                 "*.enc.res_skip_layers.*")
# Never trained: the reference gives them no gradient (ssl_proj feeds only the codebook search).
FROZEN_PREFIXES = ("ssl_proj.", "quantizer.")


def sequence_mask(lengths: np.ndarray, size: int) -> ms.Tensor:
    """[B] lengths -> float [B, 1, size] of 1 inside each length."""
    return ms.Tensor((np.arange(size)[None, :] < np.asarray(lengths)[:, None])[:, None].astype(np.float32))


def slice_segments(x: ms.Tensor, starts: np.ndarray, size: int) -> ms.Tensor:
    """x [B, C, T] -> [B, C, size] from each row's start (zeros past the end, where the reference's
    buffer would keep its zeros)."""
    t = x.shape[-1]
    end = int(np.max(starts)) + size
    if end > t:
        x = ops.concat([x, ops.zeros(x.shape[:-1] + (end - t,), x.dtype)], -1)
    return ops.stack([x[i, :, int(s):int(s) + size] for i, s in enumerate(starts)], 0)


@dataclass
class GeneratorOutput:
    y_hat: ms.Tensor  # [B, 1, segment samples]
    ids_slice: np.ndarray  # segment start frames
    mask: ms.Tensor  # [B, 1, T] frame mask
    z_p: ms.Tensor
    m_p: ms.Tensor
    logs_p: ms.Tensor
    m_q: ms.Tensor
    logs_q: ms.Tensor
    commit_loss: ms.Tensor  # the frozen quantiser's: 0


class SynthesizerTrain(SynthesizerTrn):
    def __init__(self, cfg: SoVITSConfig, posterior_layers: int = POSTERIOR_LAYERS, p_dropout: float = 0.0):
        """`p_dropout`: the config's rate for the text encoder's transformers (MRTE has none); it and the
        style encoder's fixed rate apply inside `dropout.masks` only (the trainer's steps)."""
        super().__init__(cfg)
        self.enc_q = PosteriorEncoder(cfg.spec_channels, cfg.inter_channels, cfg.hidden_channels,
                                      cfg.gin_channels, posterior_layers)
        weight_normed(self, WEIGHT_NORMED)
        for encoder in (self.enc_p.encoder_ssl, self.enc_p.encoder_text, self.enc_p.encoder2):
            encoder.set_dropout(p_dropout)

    def trainable(self) -> list[ms.Parameter]:
        return [p for name, p in self.parameters_and_names() if not name.startswith(FROZEN_PREFIXES)]

    def timbre_masked(self, spec: ms.Tensor, mask: ms.Tensor, sv_emb: ms.Tensor | None):
        """(ge, the text encoder's timbre: ge or, for Pro, ge_to512(ge)) of a padded batch."""
        ge = self.ref_enc(spec[:, :self.cfg.ref_bins] * mask, mask)
        if not self.cfg.is_pro:
            return ge, ge
        ge = self.prelu(ge + self.sv_emb(sv_emb).expand_dims(-1))
        return ge, self.ge_to512(ge.transpose(0, 2, 1)).transpose(0, 2, 1)

    def quantized(self, ssl: ms.Tensor) -> ms.Tensor:
        """HuBERT features -> the codebook vectors, at 50 Hz; constant (no gradient), as the frozen quantiser."""
        codes = self.quantizer.encode(self.ssl_proj(ssl))
        q = ops.stop_gradient(self.quantizer.decode(codes))
        if self.cfg.semantic_frame_rate == "25hz":
            b, d, t = q.shape
            q = ops.broadcast_to(q.expand_dims(-1), (b, d, t, 2)).reshape(b, d, 2 * t)
        return q

    def train_forward(self, ssl: ms.Tensor, spec: ms.Tensor, spec_lengths: np.ndarray, text: ms.Tensor,
                      text_lengths: np.ndarray, sv_emb: ms.Tensor | None, noise: ms.Tensor,
                      ids_slice: np.ndarray, segment_frames: int) -> GeneratorOutput:
        """ssl [B, 768, T], spec [B, F, T], text [B, N] (padded); noise [B, inter, T] ~ N(0, 1);
        ids_slice [B] segment starts (frames) -> the generator's outputs for the losses."""
        mask = sequence_mask(spec_lengths, spec.shape[-1])
        ge, ge_text = self.timbre_masked(spec, mask, sv_emb)
        quantized = self.quantized(ssl)
        y_mask = sequence_mask(spec_lengths, quantized.shape[-1])
        text_mask = sequence_mask(text_lengths, text.shape[-1])
        m_p, logs_p = self.enc_p.encode_masked(quantized, y_mask, text, text_mask, ge_text)
        z, m_q, logs_q = self.enc_q(spec, mask, ge, noise)
        z_p = self.flow.to_prior(z, mask, ge)
        y_hat = self.dec(slice_segments(z, ids_slice, segment_frames), ge)
        return GeneratorOutput(y_hat, ids_slice, mask, z_p, m_p, logs_p, m_q, logs_q,
                               ms.Tensor(0.0, ms.float32))
