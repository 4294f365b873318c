"""The GPT's teacher-forced training forward: the reference's `Text2SemanticDecoder.forward_old`.

A batch of utterances (phonemes + BERT features `x`, semantic codes `y`, collated as the reference's
`Text2SemanticDataset.collate`: phonemes and BERT right-padded with 0, codes with EOS) runs through the
inference model's own cells in one pass over `[x; y]`, batched, with the reference's masks; the loss is
its cross-entropy *sum* over every target position (padded ones too, whose target is EOS).

Reference quirks kept on purpose (step for step): the phonemes are padded on the right but masked as if
padded on the left (`make_pad_mask_left`), and the logits start at the last *column* of x, whatever the
utterance's own length. Dropout sites and rate are the reference's (0.1 after the positional embeddings,
on the attention weights, after attention, inside and after the feed-forward block); its masks are drawn
from a numpy `Generator` the trainer owns, so a run resumes with the same draws.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import mindspore as ms
from mindspore import ops

from .model import Text2SemanticDecoder, sine_table
from .transformer import DecoderLayer

TRAINING_DROPOUT = 0.1  # the reference hard-codes it for the positions and every layer (not config's `dropout`)
TOP_K_ACCURACY = 3  # the lightning module's `top_k` for its logged accuracy


@dataclass
class TrainingBatch:
    """One collated batch (numpy), as the reference's `collate` returns it."""

    phoneme_ids: np.ndarray  # [B, Tx] int64, right-padded with 0
    phoneme_lens: np.ndarray  # [B] int64
    semantic_ids: np.ndarray  # [B, Ty] int64, right-padded with the pad value (EOS)
    semantic_lens: np.ndarray  # [B] int64
    bert: np.ndarray  # [B, 1024, Tx] float32, zeros past each utterance (and for non-Chinese text)


@dataclass
class TeacherForcing:
    """What `forward_old` derives from a batch before the network: inputs, targets and the mask."""

    y_in: np.ndarray  # [B, Ty] codes with EOS in the padding
    targets: np.ndarray  # [B, Ty + 1]: y shifted by one, EOS at the end and in the padding
    mask: np.ndarray  # [B, 1, S, S] float32 additive (0 / -inf), S = Tx + Ty, the same for every head

    def per_head(self, heads: int) -> np.ndarray:
        """[B, H, S, S]: adding a same-shape mask costs several times less than a broadcast one (CPU)."""
        batch, _, size, _ = self.mask.shape
        return np.ascontiguousarray(np.broadcast_to(self.mask, (batch, heads, size, size)))


def teacher_forcing(batch: TrainingBatch, eos: int) -> TeacherForcing:
    x_len, y_len = batch.phoneme_ids.shape[1], batch.semantic_ids.shape[1]
    # make_pad_mask_left (x) and make_pad_mask (y): True where padded
    x_pad = np.arange(x_len)[None, :] - (x_len - batch.phoneme_lens)[:, None] < 0
    y_pad = np.arange(y_len)[None, :] >= batch.semantic_lens[:, None]
    codes = batch.semantic_ids.astype(np.int64) * (1 - y_pad.astype(np.int64))
    # pad_y_eos: targets = codes padded with 0 + EOS * mask padded with 1
    targets = np.pad(codes, ((0, 0), (0, 1))) + eos * np.pad(y_pad.astype(np.int64), ((0, 0), (0, 1)),
                                                             constant_values=1)
    blocked = np.zeros((x_len + y_len, x_len + y_len), dtype=bool)
    blocked[:x_len, x_len:] = True  # text never sees audio
    blocked[x_len:, x_len:] = np.triu(np.ones((y_len, y_len), dtype=bool), k=1)  # audio is causal
    padding = np.concatenate([x_pad, y_pad], axis=1)  # keys that are padding, per utterance
    blocked = blocked[None] | padding[:, None, :]
    mask = np.where(blocked, np.float32(-np.inf), np.float32(0.0)).astype(np.float32)[:, None]
    return TeacherForcing(targets[:, :-1], targets, mask)


class _Dropout:
    """Inverted dropout with masks from a numpy Generator (resumable), or nothing at rate 0."""

    def __init__(self, rate: float, rng: np.random.Generator | None):
        self.rate, self.rng = rate, rng

    def __call__(self, x: ms.Tensor) -> ms.Tensor:
        if self.rate <= 0.0:
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.rate
        return x * ms.Tensor(keep.astype(np.float32) * np.float32(1.0 / (1.0 - self.rate)))


_MATMUL_T = ops.MatMul(transpose_b=True)
_BATCH_MATMUL_T = ops.BatchMatMul(transpose_b=True)
_BATCH_MATMUL = ops.BatchMatMul()


def _layer(layer: DecoderLayer, x: ms.Tensor, mask: ms.Tensor, drop: _Dropout) -> ms.Tensor:
    """One post-norm layer over [B, S, D], the reference's TransformerEncoderLayer in training mode."""
    attn = layer.self_attn
    batch, length, dim = x.shape
    # 2-D products and BatchMatMul with a transposed operand: several times faster on the CPU backend
    # than broadcasting 3-D `matmul`s against a transposed weight.
    qkv = ops.bias_add(_MATMUL_T(x.reshape(-1, dim), attn.in_proj_weight), attn.in_proj_bias)
    qkv = qkv.reshape(batch, length, 3, attn.heads, attn.head_dim).transpose(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]  # [B, H, S, Dh]
    scores = _BATCH_MATMUL_T(q * attn.scale, k) + mask
    mixed = _BATCH_MATMUL(drop(ops.softmax(scores, -1)), v)
    attended = attn.out_proj(mixed.transpose(0, 2, 1, 3).reshape(batch, length, dim))
    x = layer.norm1(x + drop(attended))
    return layer.norm2(x + drop(layer.linear2(drop(ops.relu(layer.linear1(x))))))


def training_logits(model: Text2SemanticDecoder, phoneme_ids: ms.Tensor, bert: ms.Tensor, y_in: ms.Tensor,
                    mask: ms.Tensor, drop: _Dropout) -> ms.Tensor:
    """Logits [B, Ty + 1, V] of the positions from the last phoneme column on (`forward_old`)."""
    x_len, y_len = phoneme_ids.shape[1], y_in.shape[1]
    dim = model.cfg.embedding_dim
    table = ms.Tensor(sine_table(max(x_len, y_len), dim))
    x = model.ar_text_embedding(phoneme_ids) + model.bert_proj(bert.transpose(0, 2, 1))
    x = drop(x + model.ar_text_position.alpha * table[:x_len])
    y = drop(model.ar_audio_embedding(y_in) + model.ar_audio_position.alpha * table[:y_len])
    xy = ops.cat((x, y), axis=1)
    for layer in model.h.layers:
        xy = _layer(layer, xy, mask, drop)
    return model.ar_predict_layer(xy[:, x_len - 1:])


def summed_cross_entropy(logits: ms.Tensor, targets: ms.Tensor) -> ms.Tensor:
    """F.cross_entropy(..., reduction="sum") over every position."""
    log_probs = ops.log_softmax(logits, -1)
    return -ops.gather_elements(log_probs, -1, targets.expand_dims(-1)).sum()


def top_k_accuracy(logits: np.ndarray, targets: np.ndarray, eos: int, k: int = TOP_K_ACCURACY) -> float:
    """torchmetrics' MulticlassAccuracy(top_k=k, average="micro", ignore_index=EOS): the share of non-EOS
    targets among the k largest logits (what the reference logs as `top_3_acc`)."""
    keep = targets != eos
    if not keep.any():
        return 0.0
    top = np.argpartition(-logits, k - 1, axis=-1)[..., :k]
    hit = (top == targets[..., None]).any(-1)
    return float(hit[keep].mean())


class TeacherForcedLoss:
    """`loss, logits = TeacherForcedLoss(model)(batch inputs)`: the function whose gradient training takes."""

    def __init__(self, model: Text2SemanticDecoder, dropout: float = TRAINING_DROPOUT,
                 rng: np.random.Generator | None = None):
        if dropout > 0.0 and rng is None:
            raise ValueError("dropout needs a numpy Generator for its masks")
        self.model = model
        self.drop = _Dropout(dropout, rng)

    def inputs(self, batch: TrainingBatch) -> tuple[tuple[ms.Tensor, ...], np.ndarray]:
        """The network's tensors for `batch`, and the targets as numpy (for the accuracy)."""
        forcing = teacher_forcing(batch, self.model.cfg.eos)
        tensors = (ms.Tensor(batch.phoneme_ids.astype(np.int32)), ms.Tensor(batch.bert.astype(np.float32)),
                   ms.Tensor(forcing.y_in.astype(np.int32)), ms.Tensor(forcing.per_head(self.model.cfg.num_heads)),
                   ms.Tensor(forcing.targets.astype(np.int32)))
        return tensors, forcing.targets

    def __call__(self, phoneme_ids, bert, y_in, mask, targets) -> tuple[ms.Tensor, ms.Tensor]:
        logits = training_logits(self.model, phoneme_ids, bert, y_in, mask, self.drop)
        return summed_cross_entropy(logits, targets), logits
