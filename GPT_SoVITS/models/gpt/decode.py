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
    inputs = DecodeInputs.checked(model.cfg, phoneme_ids, prompt, bert)
    state = SequenceState(model.cfg.eos, inputs, options, early_stop_num, seed, on_step)
    budget = min(_CACHE_HEADROOM, MAX_STEPS if early_stop_num == -1 else int(early_stop_num) + 1)
    cache = model.new_cache(inputs.prefill_length + budget)
    text, audio = inputs.embedded(model)
    logits = model.prefill(text, audio, cache)
    while True:
        yield from state.choose(logits.asnumpy()[0])
        if state.finished:
            return state.result()
        logits = model.step(state.last_token, state.position, cache)


@dataclass(frozen=True)
class DecodeInputs:
    """One utterance's validated inputs: phonemes [T], prompt codes [L] (empty when reference-free) and
    BERT features [1024, T]."""

    phoneme_ids: np.ndarray
    prompt_tokens: np.ndarray
    bert: np.ndarray
    ref_free: bool

    @classmethod
    def checked(cls, cfg: GPTConfig, phoneme_ids: np.ndarray, prompt: np.ndarray | None,
                bert: np.ndarray) -> "DecodeInputs":
        phoneme_ids = np.asarray(phoneme_ids, np.int64)
        prompt_tokens = np.zeros(0, np.int64) if prompt is None else np.asarray(prompt, np.int64)
        bert = np.asarray(bert, np.float32)
        check_inputs(cfg, phoneme_ids, prompt_tokens, bert)
        return cls(phoneme_ids, prompt_tokens, bert, prompt is None)

    @property
    def prefill_length(self) -> int:
        return self.phoneme_ids.size + self.prompt_tokens.size

    def embedded(self, model: Text2SemanticDecoder) -> tuple[ms.Tensor, ms.Tensor | None]:
        """The prefill's input: embedded phonemes [T, dim] and prompt codes [L, dim] (None without)."""
        text = model.embed_text(ms.Tensor(self.phoneme_ids), ms.Tensor(self.bert))
        audio = model.embed_audio(ms.Tensor(self.prompt_tokens), 0) if self.prompt_tokens.size else None
        return text, audio


class SequenceState:
    """One utterance's choices after each forward pass: the sampler and the stop rules (module
    docstring), the same whether the utterance decodes alone or in a batch with others."""

    def __init__(self, eos: int, inputs: DecodeInputs, options: SamplingOptions, early_stop_num: int | float,
                 seed: int | np.random.Generator | None, on_step: StepHook | None = None):
        self.eos, self.options, self.early_stop_num, self.on_step = eos, options, early_stop_num, on_step
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.ref_free = inputs.ref_free
        self.n_prompt = inputs.prompt_tokens.size
        self.y = inputs.prompt_tokens.tolist()
        self.idx = -1  # the step whose logits were chosen from last
        self.finished = False
        self.stopped_by_eos = False

    @property
    def last_token(self) -> int:
        """The token the next forward pass feeds."""
        return self.y[-1]

    @property
    def position(self) -> int:
        """The audio position of `last_token` (the prompt's codes come first)."""
        return self.n_prompt + self.idx

    def choose(self, raw: np.ndarray) -> list[tuple[int, bool]]:
        """Choose from one step's raw logits [vocab]; return the `(token, last)` pairs to hand out."""
        self.idx += 1
        idx = self.idx
        if self.on_step is not None:
            self.on_step(idx, raw.copy())
        candidates = raw[:-1].copy() if idx < MIN_STEPS_BEFORE_EOS else raw.copy()
        token, best = sample_next(candidates, np.asarray(self.y, np.int64), self.options, self.rng)
        self.y.append(token)
        stop = self.early_stop_num != -1 and len(self.y) - self.n_prompt > self.early_stop_num
        if best == self.eos or token == self.eos:
            stop, self.stopped_by_eos = True, True
            self.y.pop()
        if not (stop or idx == MAX_STEPS - 1):
            return [(token, False)]
        self.finished = True
        out = [] if self.stopped_by_eos else [(token, True)]
        if not self.y:  # the reference pads an empty result with one token 0 ("bad zero prediction")
            self.y.append(0)
            out.append((0, True))
        return out

    def result(self) -> SemanticResult:
        return SemanticResult(tokens=np.asarray(self.y, np.int64), idx=0 if self.ref_free else self.idx,
                              n_prompt=self.n_prompt, n_steps=self.idx + 1, eos=self.stopped_by_eos)
