"""Next-token choice of the reference's `AR/models/utils.py` (`sample` / `logits_to_probs`), in numpy.

Order as the reference: repetition penalty on every token already in `y` (prompt included), top-p,
temperature, top-k, softmax, then the "exponential race" `argmax(probs / Exp(1) noise)`, which draws
from `probs` without a multinomial call. With top_k=1 only one token keeps a non-zero probability, so
the result is exactly greedy whatever the noise. The logits of one step are ~1k floats, so numpy is
cheaper here than device kernels, and the generator is seedable.
"""
from __future__ import annotations

import numpy as np

from ..backends import SamplingOptions


def penalise_repeats(logits: np.ndarray, previous: np.ndarray, penalty: float) -> None:
    """In place: divide positive / multiply negative logits of tokens seen before (each token once)."""
    if previous.size == 0 or penalty == 1.0:
        return
    seen = np.unique(previous)
    score = logits[seen]
    logits[seen] = np.where(score < 0, score * np.float32(penalty), score / np.float32(penalty))


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


def filter_top_p(logits: np.ndarray, top_p: float) -> np.ndarray:
    """Keep the most likely tokens whose cumulative probability reaches `top_p` (at least one)."""
    order = np.argsort(-logits, kind="stable")
    cumulative = np.cumsum(_softmax(logits[order]))
    remove = cumulative > top_p
    remove[0] = False
    out = logits.copy()
    out[order[remove]] = -np.inf
    return out


def filter_top_k(logits: np.ndarray, top_k: int) -> np.ndarray:
    """Keep the tokens whose logit is at least the k-th largest (ties at the pivot all survive)."""
    k = min(top_k, logits.size)
    pivot = np.partition(logits, logits.size - k)[logits.size - k]
    return np.where(logits < pivot, np.float32(-np.inf), logits)


def sample_next(logits: np.ndarray, previous: np.ndarray, options: SamplingOptions,
                rng: np.random.Generator) -> tuple[int, int]:
    """Choose the next token from float32 `logits` [V] (modified in place by the penalty).

    Returns `(token, argmax of the penalised logits)`; the decoder stops when either is EOS.
    """
    penalise_repeats(logits, previous, options.repetition_penalty)
    penalised_argmax = int(np.argmax(logits))
    filtered = logits
    if options.top_p is not None and options.top_p < 1.0:
        filtered = filter_top_p(filtered, options.top_p)
    filtered = filtered / np.float32(max(options.temperature, 1e-5))
    if options.top_k is not None and options.top_k > 0:  # the reference would fail on k <= 0
        filtered = filter_top_k(filtered, options.top_k)
    probs = _softmax(filtered)
    noise = rng.standard_exponential(probs.shape, dtype=np.float32)
    return int(np.argmax(probs / noise)), penalised_argmax
