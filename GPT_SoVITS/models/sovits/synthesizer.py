"""SynthesizerTrn for inference: semantic codes + phones + reference spectrogram(s) -> waveform.

What the reference's `SynthesizerTrn.decode` / `extract_latent` compute, for one utterance: the timbre
vector `ge` from each reference (v2Pro/v2ProPlus add a speaker-verification embedding), averaged; codebook
lookup and 2x nearest upsampling (25 Hz codes -> 50 Hz frames); the text encoder with MRTE; the prior
sample; the flow in reverse; the HiFi-GAN generator. `enc_q` (training only) is not built.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ... import runtime
from .compiled import DynamicGenerator, WindowedGenerator
from .config import SSL_DIM, SV_EMBEDDING_DIM, SoVITSConfig
from .flow import ResidualCouplingBlock
from .generator import Generator, GeneratorDims
from ..layers import Linear, zeros_parameter
from .layers import Conv1d
from .quantizer import ResidualVectorQuantizer
from .style_encoder import MelStyleEncoder
from .text_encoder import TextEncoder

MRTE_GE_CHANNELS = 512  # the text encoder's MRTE always takes a 512-wide timbre vector
CODEBOOK_BINS = 1024
N_QUANTIZERS = 1

ArrayLike = np.ndarray | ms.Tensor


def _tensor(x: ArrayLike, ndim: int, dtype=ms.float32) -> ms.Tensor:
    """A batch-of-one tensor with `ndim` dims from an array with or without the batch axis."""
    t = x if isinstance(x, ms.Tensor) else ms.Tensor(np.asarray(x))
    t = t.astype(dtype)
    while t.ndim < ndim:
        t = t.expand_dims(0)
    return t


def mean_timbre(embeddings: Sequence[ArrayLike]) -> ms.Tensor:
    """The timbre of several references: the mean of their `ge` [1, gin, 1] (one is used as it is)."""
    ges = [_tensor(ge, 3) for ge in embeddings]
    return ges[0] if len(ges) == 1 else ops.stack(ges, 0).mean(0)


class PReLU(nn.Cell):
    """torch.nn.PReLU(num_parameters=C) on [B, C, T]: one negative slope per channel."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = zeros_parameter(channels)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return ops.where(x >= 0, x, x * self.weight.reshape(1, -1, 1))


class SynthesizerTrn(nn.Cell):
    def __init__(self, cfg: SoVITSConfig):
        super().__init__()
        self.cfg = cfg
        self.enc_p = TextEncoder(cfg.inter_channels, cfg.hidden_channels, cfg.filter_channels, cfg.n_heads,
                                 cfg.n_layers, cfg.kernel_size, cfg.n_symbols)
        self.dec = Generator(GeneratorDims(
            cfg.inter_channels, cfg.resblock, cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes,
            cfg.upsample_rates, cfg.upsample_initial_channel, cfg.upsample_kernel_sizes, cfg.gin_channels))
        self.flow = ResidualCouplingBlock(cfg.inter_channels, cfg.hidden_channels, cfg.gin_channels)
        self.ref_enc = MelStyleEncoder(cfg.ref_bins, cfg.gin_channels)
        stride = 2 if cfg.semantic_frame_rate == "25hz" else 1
        self.ssl_proj = Conv1d(SSL_DIM, SSL_DIM, stride, stride=stride)
        self.quantizer = ResidualVectorQuantizer(SSL_DIM, N_QUANTIZERS, CODEBOOK_BINS)
        if cfg.is_pro:
            self.sv_emb = Linear(SV_EMBEDDING_DIM, cfg.gin_channels)
            self.prelu = PReLU(cfg.gin_channels)
            self.ge_to512 = Linear(cfg.gin_channels, MRTE_GE_CHANNELS)
        self._compiled_dec: DynamicGenerator | WindowedGenerator | None = None  # see `_compiled_generator`

    def generate(self, z: ms.Tensor, ge: ms.Tensor) -> ms.Tensor:
        """The generator `dec`: through the compiled graphs built so far by `warm_up` or its stages
        (`compiled.py`, `runtime.compiled_generator`), op by op before any is."""
        compiled = self._compiled_dec
        if compiled is None or not runtime.compiled_generator():
            return self.dec(z, ge, None, True)
        return compiled(z, ge)

    def warm_up(self) -> None:
        """Compile the generator's graphs (the dynamic one, or the window's and the short ones: they serve
        every length); requests use them from then on. No-op unless compiled."""
        for _, build in self.warm_up_stages():
            build()

    def warm_up_stages(self) -> list[tuple[str, Callable[[], None]]]:
        """`warm_up` as one `(name, build)` per graph, for a warm-up that runs in the background between
        requests; empty unless compiled."""
        if not runtime.compiled_generator():
            return []
        stages = self._compiled_generator().stages(self.cfg.inter_channels, self.cfg.gin_channels)
        return [(f"sovits.compile.{name}", build) for name, build in stages]

    def _compiled_generator(self) -> DynamicGenerator | WindowedGenerator:
        """Built once, after the weights load: one dynamic-length graph where `runtime.dynamic_generator()`
        (the CPU), else fixed windows."""
        if self._compiled_dec is None:
            kind = DynamicGenerator if runtime.dynamic_generator() else WindowedGenerator
            self._compiled_dec = kind(self.dec)
        return self._compiled_dec

    # -- semantic tokens ---------------------------------------------------------------------------
    def extract_latent(self, ssl: ArrayLike) -> ms.Tensor:
        """HuBERT features [1, 768, T] -> codes [1, n_q, T // 2] (int)."""
        codes = self.quantizer.encode(self.ssl_proj(_tensor(ssl, 3)))
        return codes.transpose(1, 0, 2)

    # -- timbre ------------------------------------------------------------------------------------
    def reference_embedding(self, spec: ArrayLike, sv_emb: ArrayLike | None = None,
                            trace: dict | None = None) -> ms.Tensor:
        """ge [1, gin, 1] of one reference spectrogram [1, F, T] (and, for Pro models, its SV embedding)."""
        spec = _tensor(spec, 3)
        ge = self.ref_enc(spec[:, :self.cfg.ref_bins])
        if self.cfg.is_pro:
            if sv_emb is None:
                raise ValueError(f"a {self.cfg.version} model needs a speaker-verification embedding per reference")
            proj = self.sv_emb(_tensor(sv_emb, 2)).expand_dims(-1)
            if trace is not None and "ge_ref_enc" not in trace:
                trace["ge_ref_enc"], trace["sv_proj"] = ge, proj
            ge = self.prelu(ge + proj)
        return ge

    def timbre(self, refer_specs: Sequence[ArrayLike], sv_emb: Sequence[ArrayLike] | None = None,
               trace: dict | None = None) -> ms.Tensor:
        """Mean `ge` over the references; `sv_emb` (Pro models) is parallel to `refer_specs`."""
        if self.cfg.is_pro and (sv_emb is None or len(sv_emb) != len(refer_specs)):
            raise ValueError("give one speaker-verification embedding per reference spectrogram")
        return mean_timbre([self.reference_embedding(spec, sv_emb[i] if self.cfg.is_pro else None, trace)
                            for i, spec in enumerate(refer_specs)])

    # -- synthesis ---------------------------------------------------------------------------------
    def decode(self, codes: ArrayLike, phones: ArrayLike, refer_specs: Sequence[ArrayLike],
               noise_scale: float = 0.5, speed: float = 1.0, seed: int | None = None,
               sv_emb: Sequence[ArrayLike] | None = None, trace: dict | None = None) -> ms.Tensor:
        """codes [1, 1, T] (25 Hz), phones [1, N] -> audio [1, 1, n_frames * hop], where n_frames is 2T
        (speed 1) or int(2T / speed) + 1.

        `noise_scale` scales the prior's Gaussian draw (0: deterministic, z_p = m_p); `seed` makes a
        non-zero draw reproducible. Pass a dict as `trace` to receive the intermediate tensors.
        """
        return self.decode_with_timbre(codes, phones, self.timbre(refer_specs, sv_emb, trace), noise_scale, speed,
                                       seed, trace)

    def decode_with_timbre(self, codes: ArrayLike, phones: ArrayLike, ge: ArrayLike, noise_scale: float = 0.5,
                           speed: float = 1.0, seed: int | None = None, trace: dict | None = None) -> ms.Tensor:
        """`decode` with the timbre `ge` [1, gin, 1] already computed (a voice's is cached by the pipeline)."""
        ge = _tensor(ge, 3)
        frames = self.encode_frames(codes, phones, ge, trace)
        return self.synthesize_frames(frames, ge, noise_scale, speed, np.random.default_rng(seed), trace)

    def encode_frames(self, codes: ArrayLike, phones: ArrayLike, ge: ms.Tensor,
                      trace: dict | None = None) -> ms.Tensor:
        """codes [1, 1, T] + phones [1, N] + timbre -> the text encoder's frames [1, hidden, 2T] (50 Hz),
        before the time stretch and the prior's projection."""
        return self.encode_codes(codes, self.encode_phones(phones), ge, trace)

    def encode_phones(self, phones: ArrayLike) -> ms.Tensor:
        """phones [1, N] -> their encoding (`TextEncoder.encode_phones`), which `encode_codes` takes."""
        return self.enc_p.encode_phones(_tensor(phones, 2, ms.int32))

    def encode_codes(self, codes: ArrayLike, encoded_phones: ms.Tensor, ge: ms.Tensor,
                     trace: dict | None = None) -> ms.Tensor:
        """`encode_frames` with the phones already encoded: what each streaming chunk runs."""
        ge_text = self.ge_to512(ge.transpose(0, 2, 1)).transpose(0, 2, 1) if self.cfg.is_pro else ge
        quantized = self.quantizer.decode(_tensor(codes, 3, ms.int32))
        if self.cfg.semantic_frame_rate == "25hz":  # nearest x2: every code covers two 50 Hz frames
            b, d, t = quantized.shape
            quantized = ops.broadcast_to(quantized.expand_dims(-1), (b, d, t, 2)).reshape(b, d, 2 * t)
        frames = self.enc_p.encode_with_phones(quantized, encoded_phones, ge_text)
        if trace is not None:
            trace.update(ge=ge, quantized=quantized)
            if self.cfg.is_pro:
                trace["ge512"] = ge_text
        return frames

    def synthesize_frames(self, frames: ms.Tensor, ge: ms.Tensor, noise_scale: float, speed: float,
                          rng: np.random.Generator, trace: dict | None = None) -> ms.Tensor:
        """Encoded frames (all of them, or a streaming window) -> audio: prior, noise, flow, generator."""
        x, m_p, logs_p = self.enc_p.prior(frames, speed)
        z_p = m_p
        if noise_scale != 0:
            noise = rng.standard_normal(m_p.shape).astype(np.float32)
            z_p = m_p + ms.Tensor(noise) * ops.exp(logs_p) * noise_scale
        z = self.flow.reverse(z_p, ge)
        audio = self.generate(z, ge)
        if trace is not None:
            trace.update(enc_p_x=x, m_p=m_p, logs_p=logs_p, z=z, dec_in=z)
        return audio
