"""The GPT's DPO training loss (`train.if_dpo`): the reference's `Text2SemanticDecoder.forward`.

The reference (`AR/models/t2s_model.py` `forward`, `AR/models/utils.py`) corrupts each utterance's codes
(`make_reject_y`: a random span repeated or dropped), runs the network on the chosen and on the rejected
codes with the same phonemes (`make_input_data`, whose arithmetic is `forward_old`'s: the same masks,
padding and targets as `training.teacher_forcing`), and adds to the chosen pass's summed cross-entropy
(`loss_1`) a reference-free DPO term (`loss_2`) on the per-utterance log-probability sums.

Reference quirks kept on purpose: `make_reject_y` cuts the *padded* row (padding EOS codes included, which
then count as real codes of the rejected utterance) and draws the cut points in `[0, padded length)`; the
log-probability sums run over every position of the padded batch (padding too, target EOS), so a rejected
batch longer than the chosen one sums more positions. The draws come from a numpy `Generator` the trainer
owns (the reference uses torch's global one), so a run resumes with the same draws; the loss takes the
rejected codes as an input, so tests can feed the reference's.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import mindspore as ms
from mindspore import ops

from .model import Text2SemanticDecoder
from .training import TRAINING_DROPOUT, TrainingBatch, _Dropout, teacher_forcing, training_logits

DPO_BETA = 0.2  # forward: dpo_loss(A, R, 0, 0, 0.2, reference_free=True)
REPEAT, LOST = 0, 1  # make_reject_y's two corruptions: the span twice, or dropped


def draw_reject(rng: np.random.Generator, batch_size: int, padded_len: int) -> np.ndarray:
    """[B, 3] int64: per utterance the corruption (REPEAT / LOST) and the two sorted cut points, drawn in
    `make_reject_y`'s order (kind, then the cuts, utterance by utterance)."""
    draws = np.empty((batch_size, 3), np.int64)
    for b in range(batch_size):
        draws[b, 0] = rng.integers(0, 2)
        draws[b, 1:] = np.sort(rng.integers(0, padded_len, size=2))
    return draws


def reject_codes(semantic_ids: np.ndarray, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`make_reject_y` with its draws given: the rejected codes [B, T'] (right-padded with 0) and lengths."""
    rows = []
    for y, (kind, start, end) in zip(semantic_ids, draws):
        span = y[start:end]
        middle = np.concatenate([span, span]) if kind == REPEAT else span[:0]
        rows.append(np.concatenate([y[:start], middle, y[end:]]))
    lens = np.array([len(row) for row in rows], np.int64)
    reject = np.zeros((len(rows), int(lens.max())), semantic_ids.dtype)
    for b, row in enumerate(rows):
        reject[b, :len(row)] = row
    return reject, lens


def make_reject_y(semantic_ids: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The rejected codes and lengths of a collated batch, drawn from `rng`."""
    return reject_codes(semantic_ids, draw_reject(rng, *semantic_ids.shape))


def sequence_logps(logits: ms.Tensor, targets: ms.Tensor) -> ms.Tensor:
    """`get_batch_logps`: per utterance, the sum over every position of the target's log-probability [B]."""
    return ops.gather_elements(ops.log_softmax(logits, -1), -1, targets.expand_dims(-1)).squeeze(-1).sum(-1)


def neg_log_sigmoid(z: ms.Tensor) -> ms.Tensor:
    """-log(sigmoid(z)) = max(-z, 0) + log1p(exp(-|z|)), without overflow for any z; the branch at 0 keeps
    the derivative (-1/2) there, which relu/abs would zero."""
    positive = z >= 0
    return ops.where(positive, ops.zeros_like(z), -z) + ops.log1p(ops.exp(ops.where(positive, -z, z)))


def dpo_loss(chosen: ms.Tensor, rejected: ms.Tensor, beta: float = DPO_BETA) -> ms.Tensor:
    """`dpo_loss(chosen, rejected, 0, 0, beta, reference_free=True)[0]`: mean of -logsigmoid(beta * margin)."""
    return neg_log_sigmoid(beta * (chosen - rejected)).mean()


class DpoLoss:
    """`loss, loss_1, loss_2, logits = DpoLoss(model)(inputs)`: the function whose gradient DPO training takes
    (`logits`: the chosen pass's, for the accuracy)."""

    def __init__(self, model: Text2SemanticDecoder, dropout: float = TRAINING_DROPOUT,
                 rng: np.random.Generator | None = None, beta: float = DPO_BETA):
        if dropout > 0.0 and rng is None:
            raise ValueError("dropout needs a numpy Generator for its masks")
        self.model, self.beta = model, beta
        self.drop = _Dropout(dropout, rng)

    def inputs(self, batch: TrainingBatch, reject: tuple[np.ndarray, np.ndarray]) -> tuple[tuple[ms.Tensor, ...],
                                                                                           np.ndarray]:
        """The network's tensors for `batch` and its rejected codes and lengths, and the chosen targets."""
        eos, heads = self.model.cfg.eos, self.model.cfg.num_heads
        rejected = replace(batch, semantic_ids=reject[0], semantic_lens=reject[1])
        tensors: list[ms.Tensor] = [ms.Tensor(batch.phoneme_ids.astype(np.int32)),
                                    ms.Tensor(batch.bert.astype(np.float32))]
        for forcing in (teacher_forcing(batch, eos), teacher_forcing(rejected, eos)):
            tensors += [ms.Tensor(forcing.y_in.astype(np.int32)), ms.Tensor(forcing.per_head(heads)),
                        ms.Tensor(forcing.targets.astype(np.int32))]
        return tuple(tensors), teacher_forcing(batch, eos).targets

    def __call__(self, phoneme_ids, bert, y_in, mask, targets, reject_y_in, reject_mask, reject_targets):
        logits = training_logits(self.model, phoneme_ids, bert, y_in, mask, self.drop)
        reject_logits = training_logits(self.model, phoneme_ids, bert, reject_y_in, reject_mask, self.drop)
        chosen = sequence_logps(logits, targets)
        loss_1 = -chosen.sum()  # F.cross_entropy(..., reduction="sum") of the chosen pass
        loss_2 = dpo_loss(chosen, sequence_logps(reject_logits, reject_targets), self.beta)
        return loss_1 + loss_2, loss_1, loss_2, logits
