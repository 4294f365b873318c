"""Autoregressive decoding as the reference's `infer_panel_naive` (what `inference_webui` calls).

Step 0 runs `[phonemes; prompt tokens]` through the model at once; every later step feeds the token
just chosen against the key/value cache. Stop rules, checked in the reference's order after each
token is appended:
  * more than `early_stop_num` tokens generated -> stop, keep them all;
  * EOS is the argmax of the penalised logits or the sampled token -> stop, drop that last token;
  * step `MAX_STEPS - 1` reached -> stop.
The returned `idx` (the last step index; 0 without a prompt) is what the webui slices with
`pred_semantic[:, -idx:]`: after an early stop this drops the first generated token.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generator

import numpy as np
import mindspore as ms

from .config import BERT_DIM, MAX_STEPS, MIN_STEPS_BEFORE_EOS, GPTConfig
from .model import Text2SemanticDecoder
from ..backends import SamplingOptions
from .sampling import sample_next

StepHook = Callable[[int, np.ndarray], None]  # (step index, raw logits [vocab]) before any masking
_CACHE_HEADROOM = 256  # audio positions reserved after the prefill; the cache doubles beyond it


@dataclass(frozen=True)
class SemanticResult:
    tokens: np.ndarray  # int64 [n_prompt + n_generated]: prompt + generated, EOS removed (infer_panel's y)
    idx: int  # what infer_panel returns next to y: the last step index, 0 without a prompt
    n_prompt: int
    n_steps: int  # forward passes run (step 0 included)
    eos: bool  # stopped by EOS (rather than by count or the step cap)

    @property
    def generated(self) -> np.ndarray:
        return self.tokens[self.n_prompt:]

    @property
    def webui_tokens(self) -> np.ndarray:
        """`pred_semantic[:, -idx:]` of `get_tts_wav`: the tokens handed to SoVITS (`-0:` is all)."""
        return self.tokens[-self.idx:] if self.idx else self.tokens


def check_inputs(cfg: GPTConfig, phoneme_ids: np.ndarray, prompt: np.ndarray, bert: np.ndarray) -> None:
    """Clear errors for inputs the embedding lookups would otherwise turn into garbage or a crash."""
    if phoneme_ids.ndim != 1 or phoneme_ids.size == 0:
        raise ValueError(f"phoneme ids must be a non-empty 1-D sequence, got shape {phoneme_ids.shape}")
    if bert.shape != (BERT_DIM, phoneme_ids.size):
        raise ValueError(f"BERT features must be [{BERT_DIM}, {phoneme_ids.size}], got {list(bert.shape)}")
    if phoneme_ids.min() < 0 or phoneme_ids.max() >= cfg.phoneme_vocab_size:
        raise ValueError(f"phoneme ids must lie in [0, {cfg.phoneme_vocab_size}) for this GPT "
                         "(a v1 model cannot read v2 phonemes)")
    if prompt.ndim != 1 or (prompt.size and (prompt.min() < 0 or prompt.max() >= cfg.vocab_size)):
        raise ValueError(f"prompt tokens must be a 1-D sequence in [0, {cfg.vocab_size})")


def infer_panel(
    model: Text2SemanticDecoder,
    phoneme_ids: np.ndarray,
    prompt: np.ndarray | None,
    bert: np.ndarray,
    options: SamplingOptions = SamplingOptions(),
    early_stop_num: int | float = -1,
    seed: int | np.random.Generator | None = None,
    on_step: StepHook | None = None,
) -> SemanticResult:
    """Generate semantic tokens for one utterance (all of `decode_tokens`, then its result)."""
    tokens = decode_tokens(model, phoneme_ids, prompt, bert, options, early_stop_num, seed, on_step)
    while True:
        try:
            next(tokens)
        except StopIteration as finished:
            return finished.value


def decode_tokens(
    model: Text2SemanticDecoder,
    phoneme_ids: np.ndarray,
    prompt: np.ndarray | None,
    bert: np.ndarray,
    options: SamplingOptions = SamplingOptions(),
    early_stop_num: int | float = -1,
    seed: int | np.random.Generator | None = None,
    on_step: StepHook | None = None,
) -> Generator[tuple[int, bool], None, SemanticResult]:
    """Yield `(token, last)` for each generated token as soon as it is kept (never the EOS), then
    return the result. `last` is true when decoding stops right after this token (the count limit or
    the step cap); after an EOS the generator just ends.

    phoneme_ids: int [T] (prompt text + target text phonemes); prompt: int [L] semantic tokens of the
    reference clip, or None for reference-free mode; bert: float32 [1024, T]. Streaming consumers
    read the yielded tokens; everyone else calls `infer_panel`.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    eos = model.cfg.eos
    phoneme_ids = np.asarray(phoneme_ids, np.int64)
    prompt_tokens = np.zeros(0, np.int64) if prompt is None else np.asarray(prompt, np.int64)
    bert = np.asarray(bert, np.float32)
    check_inputs(model.cfg, phoneme_ids, prompt_tokens, bert)
    text = model.embed_text(ms.Tensor(phoneme_ids), ms.Tensor(bert))
    n_prompt = prompt_tokens.size
    audio = model.embed_audio(ms.Tensor(prompt_tokens), 0) if n_prompt else None

    budget = min(_CACHE_HEADROOM, MAX_STEPS if early_stop_num == -1 else int(early_stop_num) + 1)
    cache = model.new_cache(text.shape[0] + n_prompt + budget)
    y = list(prompt_tokens.tolist())
    logits = model.prefill(text, audio, cache)
    stopped_by_eos = False
    for idx in range(MAX_STEPS):
        raw = logits.asnumpy()[0]
        if on_step is not None:
            on_step(idx, raw.copy())
        candidates = raw[:-1].copy() if idx < MIN_STEPS_BEFORE_EOS else raw.copy()
        token, best = sample_next(candidates, np.asarray(y, np.int64), options, rng)
        y.append(token)
        stop = early_stop_num != -1 and len(y) - n_prompt > early_stop_num
        if best == eos or token == eos:
            stop, stopped_by_eos = True, True
            y.pop()
        if stop or idx == MAX_STEPS - 1:
            if not stopped_by_eos:
                yield token, True
            break
        yield token, False
        logits = model.step(token, n_prompt + idx, cache)

    if not y:  # the reference pads an empty result with one token 0 ("bad zero prediction")
        y.append(0)
        yield 0, True
    return SemanticResult(tokens=np.asarray(y, np.int64), idx=0 if prompt is None else idx,
                          n_prompt=n_prompt, n_steps=idx + 1, eos=stopped_by_eos)
