"""SoVITS training losses (the reference's module/losses.py): least-squares GAN, feature matching, KL."""
from __future__ import annotations

from typing import Sequence

import mindspore as ms
from mindspore import ops


def discriminator_loss(real: Sequence[ms.Tensor], fake: Sequence[ms.Tensor]) -> ms.Tensor:
    """sum over discriminators of mean((1 - D(y))^2) + mean(D(y_hat)^2)."""
    loss = None
    for dr, dg in zip(real, fake):
        term = ops.mean((1 - dr) ** 2) + ops.mean(dg ** 2)
        loss = term if loss is None else loss + term
    return loss


def generator_loss(fake: Sequence[ms.Tensor]) -> ms.Tensor:
    """sum over discriminators of mean((1 - D(y_hat))^2)."""
    loss = None
    for dg in fake:
        term = ops.mean((1 - dg) ** 2)
        loss = term if loss is None else loss + term
    return loss


def feature_loss(fmap_real: Sequence[Sequence[ms.Tensor]], fmap_fake: Sequence[Sequence[ms.Tensor]]) -> ms.Tensor:
    """2 x the sum of mean |real - fake| over every feature map; the real side is a constant."""
    loss = None
    for dr, dg in zip(fmap_real, fmap_fake):
        for rl, gl in zip(dr, dg):
            term = ops.mean(ops.abs(ops.stop_gradient(rl) - gl))
            loss = term if loss is None else loss + term
    return loss * 2


def kl_loss(z_p: ms.Tensor, logs_q: ms.Tensor, m_p: ms.Tensor, logs_p: ms.Tensor, mask: ms.Tensor) -> ms.Tensor:
    """KL(posterior || prior) per valid frame and channel, summed, divided by the number of valid frames."""
    kl = logs_p - logs_q - 0.5
    kl = kl + 0.5 * ((z_p - m_p) ** 2) * ops.exp(-2.0 * logs_p)
    return ops.sum(kl * mask) / ops.sum(mask)
