"""One SoVITS training step, as s2_train.py's `train_and_evaluate` body (float32, no GradScaler).

Generator forward (posterior noise and segment starts given) -> the discriminator's update on the real
segment against the detached generated one -> the generator's update through the *updated*
discriminator: mel L1 x c_mel, KL x c_kl, feature matching, the adversarial term and the frozen
quantiser's commitment loss (0). The reference's `clip_grad_value_(..., None)` clips nothing; it returns
the gradients' global norm, reported here as grad_norm_d / grad_norm_g.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import mindspore as ms
from mindspore import ops

from ...audio.mel import MelSpectrogram, spec_to_mel
from ...models.sovits.discriminator import MultiPeriodDiscriminator
from ...models.sovits.dropout import masks
from ...models.sovits.losses import discriminator_loss, feature_loss, generator_loss, kl_loss
from ...models.sovits.training import SynthesizerTrain, slice_segments
from .optim import AdamW, as_array


@dataclass
class S2Batch:
    """A padded batch as TextAudioSpeakerCollate makes it (numpy; lengths int64)."""
    ssl: np.ndarray  # [B, 768, T_ssl]
    ssl_lengths: np.ndarray
    spec: np.ndarray  # [B, F, T]
    spec_lengths: np.ndarray
    y: np.ndarray  # [B, 1, samples]
    y_lengths: np.ndarray
    text: np.ndarray  # [B, N] phone ids
    text_lengths: np.ndarray
    sv: np.ndarray | None = None  # [B, 20480], Pro versions


@dataclass
class Draws:
    """The step's random draws: the posterior's noise [B, inter, T], the segment starts [B] (frames), and
    the seed of the dropout masks (None: no dropout, as the parity tests run it)."""
    noise: np.ndarray
    ids_slice: np.ndarray
    dropout_seed: int | None = None


def draw(rng: np.random.Generator, batch: S2Batch, inter_channels: int, segment_frames: int) -> Draws:
    """As the reference: standard normal noise; starts trunc(u * (length - segment + 1)), u ~ U[0, 1)."""
    b, _, t = batch.spec.shape
    noise = rng.standard_normal((b, inter_channels, t)).astype(np.float32)
    span = batch.spec_lengths.astype(np.float64) - segment_frames + 1
    starts = np.trunc(rng.random(b) * span).astype(np.int64)
    return Draws(noise, starts, int(rng.integers(2 ** 62)))


def grad_norm(grads: "dict[str, ms.Tensor | np.ndarray]") -> float:
    """The global 2-norm, summed in float64 as commons.clip_grad_value_ does (per-tensor norms squared)."""
    return float(sum(float(np.linalg.norm(as_array(g).astype(np.float64))) ** 2 for g in grads.values()) ** 0.5)


def to_numpy(grads: dict[str, ms.Tensor]) -> dict[str, np.ndarray]:
    """The gradients copied out once, for the norm and the (numpy) optimiser."""
    return {name: g.asnumpy() for name, g in grads.items()}


@dataclass
class TrainHps:
    """The train/data keys of s2.json a step reads."""
    segment_size: int
    hop_length: int
    c_mel: float
    c_kl: float

    @classmethod
    def from_hps(cls, hps: Any) -> "TrainHps":
        return cls(int(hps["train"]["segment_size"]), int(hps["data"]["hop_length"]),
                   float(hps["train"]["c_mel"]), float(hps["train"]["c_kl"]))

    @property
    def segment_frames(self) -> int:
        return self.segment_size // self.hop_length


class S2Step:
    """The networks, the mel transform and the two optimisers; `run` does one batch."""

    def __init__(self, net_g: SynthesizerTrain, net_d: MultiPeriodDiscriminator, mel: MelSpectrogram,
                 optim_g: AdamW, optim_d: AdamW, hps: TrainHps):
        self.net_g, self.net_d, self.mel = net_g, net_d, mel
        self.optim_g, self.optim_d, self.hps = optim_g, optim_d, hps
        self.g_params = [p for g in optim_g.groups for p in g.params]
        self.d_params = [p for g in optim_d.groups for p in g.params]

    # -- the pieces (the parity tests call them one by one) ------------------------------------
    def generate(self, t: dict[str, Any], draws: Draws):
        """The generator's forward; both passes of a step drop the same units (one seed, same order)."""
        with masks(draws.dropout_seed):
            return self.net_g.train_forward(t["ssl"], t["spec"], t["spec_lengths"], t["text"], t["text_lengths"],
                                            t["sv"], ms.Tensor(draws.noise), draws.ids_slice,
                                            self.hps.segment_frames)

    def real_segments(self, t: dict[str, Any], draws: Draws) -> tuple[ms.Tensor, ms.Tensor]:
        """(the waveform segment [B, 1, segment], its mel [B, n_mels, frames] from the batch's spectrogram)."""
        y = slice_segments(t["y"], draws.ids_slice * self.hps.hop_length, self.hps.segment_size)
        y_mel = slice_segments(spec_to_mel(t["spec"], self.mel.basis), draws.ids_slice, self.hps.segment_frames)
        return y, y_mel

    def _d_loss(self, y: ms.Tensor, y_hat: ms.Tensor) -> ms.Tensor:
        real, fake, _, _ = self.net_d(y, y_hat)
        return discriminator_loss(real, fake)

    def _g_loss(self, t: dict[str, Any], draws: Draws, y: ms.Tensor, y_mel: ms.Tensor):
        out = self.generate(t, draws)
        y_hat_mel = self.mel(out.y_hat.squeeze(1))
        _, fake, fmap_real, fmap_fake = self.net_d(y, out.y_hat)
        loss_mel = ops.mean(ops.abs(y_mel - y_hat_mel)) * self.hps.c_mel
        loss_kl = kl_loss(out.z_p, out.logs_q, out.m_p, out.logs_p, out.mask) * self.hps.c_kl
        loss_fm = feature_loss(fmap_real, fmap_fake)
        loss_gen = generator_loss(fake)
        total = loss_gen + loss_fm + loss_mel + out.commit_loss + loss_kl
        return total, loss_gen, loss_fm, loss_mel, out.commit_loss, loss_kl

    def discriminator_grads(self, y: ms.Tensor, y_hat: ms.Tensor) -> tuple[float, dict[str, ms.Tensor]]:
        y_hat = ops.stop_gradient(y_hat)
        loss, grads = ms.value_and_grad(lambda: self._d_loss(y, y_hat), None, self.d_params)()
        return float(loss), {p.name: g for p, g in zip(self.d_params, grads)}

    def generator_grads(self, t: dict[str, Any], draws: Draws, y: ms.Tensor, y_mel: ms.Tensor):
        loss_fn = lambda: self._g_loss(t, draws, y, y_mel)  # noqa: E731
        (total, *terms), grads = ms.value_and_grad(loss_fn, None, self.g_params, has_aux=True)()
        names = ("gen", "fm", "mel", "kl_ssl", "kl")
        losses = {"gen_all": float(total), **{n: float(v) for n, v in zip(names, terms)}}
        return losses, {p.name: g for p, g in zip(self.g_params, grads)}

    # -- the whole step ----------------------------------------------------------------------------
    def run(self, batch: S2Batch, draws: Draws) -> dict[str, float]:
        t = tensors(batch)
        y, y_mel = self.real_segments(t, draws)
        y_hat = self.generate(t, draws).y_hat
        loss_disc, grads_d = self.discriminator_grads(y, y_hat)
        grads_d = to_numpy(grads_d)
        norm_d = grad_norm(grads_d)
        self.optim_d.step(grads_d)
        losses, grads_g = self.generator_grads(t, draws, y, y_mel)
        grads_g = to_numpy(grads_g)
        norm_g = grad_norm(grads_g)
        self.optim_g.step(grads_g)
        return {"loss": losses["gen_all"], **losses, "disc": loss_disc, "grad_norm_d": norm_d,
                "grad_norm_g": norm_g}


def tensors(batch: S2Batch) -> dict[str, Any]:
    """The batch as the networks take it: float tensors, int32 phone ids, lengths as numpy."""
    f = lambda a: ms.Tensor(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    return {"ssl": f(batch.ssl), "spec": f(batch.spec), "y": f(batch.y),
            "text": ms.Tensor(batch.text.astype(np.int32)), "spec_lengths": batch.spec_lengths,
            "text_lengths": batch.text_lengths, "sv": None if batch.sv is None else f(batch.sv)}
