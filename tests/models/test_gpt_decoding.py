"""Decoding rules of `infer_panel` on scripted logits, the sampler, and the key/value cache.

The stop rules are checked with a stand-in model whose logits are chosen per step, so each rule
(EOS masked for the first steps, EOS removal, the early-stop count and its dropped first token, the
step cap, reference-free `idx = 0`) is hit on purpose. The cache checks use the golden tiny model.
"""
from __future__ import annotations

import mindspore as ms
import numpy as np
import pytest
from golden_data import model_file, model_meta, model_subdirs

from GPT_SoVITS.models.gpt import GPTConfig, SamplingOptions, decode_tokens, infer_panel, load_gpt
from GPT_SoVITS.models.gpt import compiled as compiled_module
from GPT_SoVITS.models.gpt import decode as decode_module
from GPT_SoVITS.models.gpt.config import MIN_STEPS_BEFORE_EOS
from GPT_SoVITS.models.gpt.model import prefill_mask
from GPT_SoVITS.models.gpt.sampling import filter_top_p, penalise_repeats, sample_next

VOCAB, EOS = 9, 8
GREEDY = SamplingOptions(top_k=1, top_p=1.0, temperature=1.0, repetition_penalty=1.35)


class ScriptedModel:
    """Stands in for Text2SemanticDecoder: step i returns `script(i)` as logits."""

    cfg = GPTConfig(embedding_dim=8, hidden_dim=8, num_heads=1, num_layers=1, vocab_size=VOCAB,
                    phoneme_vocab_size=16, eos=EOS)

    def __init__(self, script):
        self.script, self.calls = script, 0

    def embed_text(self, ids, bert):
        return ids

    def embed_audio(self, tokens, start):
        return tokens

    def new_cache(self, capacity):
        return None

    def _next(self):
        logits = np.asarray(self.script(self.calls), np.float32)[None]
        self.calls += 1
        return ms.Tensor(logits)

    def prefill(self, text, audio, cache):
        return self._next()

    def step(self, token, position, cache):
        return self._next()


def eos_first(step: int) -> np.ndarray:
    """EOS always the best logit; a different ordinary token leads at each step."""
    logits = np.zeros(VOCAB)
    logits[step % (VOCAB - 1)] = 1.0
    logits[EOS] = 5.0
    return logits


def never_eos(step: int) -> np.ndarray:
    logits = eos_first(step)
    logits[EOS] = -5.0
    return logits


PHONES, BERT, PROMPT = np.arange(1, 5), np.zeros((1024, 4), np.float32), np.array([3, 4, 5])


def test_eos_is_masked_for_the_first_steps_then_removed():
    result = infer_panel(ScriptedModel(eos_first), PHONES, PROMPT, BERT, GREEDY, early_stop_num=100, seed=0)
    assert result.eos and result.n_steps == MIN_STEPS_BEFORE_EOS + 1
    assert result.idx == MIN_STEPS_BEFORE_EOS == len(result.generated)
    assert EOS not in result.tokens
    np.testing.assert_array_equal(result.tokens[: PROMPT.size], PROMPT)
    np.testing.assert_array_equal(result.webui_tokens, result.generated)


def test_early_stop_keeps_the_extra_token_and_the_webui_drops_the_first():
    limit = 15
    result = infer_panel(ScriptedModel(never_eos), PHONES, PROMPT, BERT, GREEDY, early_stop_num=limit, seed=0)
    assert not result.eos and len(result.generated) == limit + 1 and result.idx == limit
    np.testing.assert_array_equal(result.webui_tokens, result.generated[1:])


def test_reference_free_returns_idx_zero_and_everything():
    result = infer_panel(ScriptedModel(eos_first), PHONES, None, BERT, GREEDY, early_stop_num=100, seed=0)
    assert result.n_prompt == 0 and result.idx == 0 and result.eos
    np.testing.assert_array_equal(result.webui_tokens, result.tokens)


def test_step_cap(monkeypatch):
    monkeypatch.setattr(decode_module, "MAX_STEPS", 30)
    result = infer_panel(ScriptedModel(never_eos), PHONES, PROMPT, BERT, GREEDY, early_stop_num=-1, seed=0)
    assert result.n_steps == 30 and result.idx == 29 and len(result.generated) == 30 and not result.eos


def drain(tokens):
    """All `(code, last)` pairs of a decode_tokens generator, and its returned result."""
    pairs = []
    while True:
        try:
            pairs.append(next(tokens))
        except StopIteration as finished:
            return pairs, finished.value


@pytest.mark.parametrize("script,prompt,limit", [(eos_first, PROMPT, 100), (never_eos, PROMPT, 15),
                                                 (eos_first, None, 100)])
def test_streamed_tokens_are_the_generated_ones_and_only_a_count_stop_flags_the_last(script, prompt, limit):
    pairs, result = drain(decode_tokens(ScriptedModel(script), PHONES, prompt, BERT, GREEDY, limit, seed=0))
    assert [code for code, _ in pairs] == result.generated.tolist()
    # after an EOS the stream just ends; a count stop marks its final code
    assert [last for _, last in pairs] == [False] * (len(pairs) - 1) + [not result.eos]


def test_step_cap_flags_the_last_code(monkeypatch):
    monkeypatch.setattr(decode_module, "MAX_STEPS", 30)
    pairs, result = drain(decode_tokens(ScriptedModel(never_eos), PHONES, PROMPT, BERT, GREEDY, -1, seed=0))
    assert len(pairs) == 30 and pairs[-1][1] and not any(last for _, last in pairs[:-1])


def test_hook_sees_raw_logits_before_the_eos_drop_and_penalty():
    seen = []
    infer_panel(ScriptedModel(eos_first), PHONES, PROMPT, BERT, GREEDY, early_stop_num=100, seed=0,
                on_step=lambda step, raw: seen.append((step, raw)))
    assert [step for step, _ in seen] == list(range(len(seen)))
    for step, raw in seen:
        np.testing.assert_array_equal(raw, eos_first(step).astype(np.float32))


def test_repetition_penalty_in_place_each_token_once():
    logits = np.array([2.0, -2.0, 1.0, 0.5], np.float32)
    penalise_repeats(logits, np.array([0, 1, 1, 0]), 2.0)
    np.testing.assert_array_equal(logits, np.array([1.0, -4.0, 1.0, 0.5], np.float32))


@pytest.mark.parametrize("seed", range(5))
def test_top_k_one_is_greedy_on_penalised_logits(seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal(50).astype(np.float32)
    previous = rng.integers(0, 50, 10)
    expected = logits.copy()
    penalise_repeats(expected, previous, GREEDY.repetition_penalty)
    token, best = sample_next(logits.copy(), previous, GREEDY, np.random.default_rng(seed + 100))
    assert token == best == int(np.argmax(expected))


def test_sampling_follows_the_softmax_within_top_k():
    logits = np.array([2.0, 1.5, 1.0, 0.0, -1.0], np.float32)
    options = SamplingOptions(top_k=3, top_p=1.0, temperature=0.8, repetition_penalty=1.0)
    rng = np.random.default_rng(0)
    draws = np.array([sample_next(logits.copy(), np.zeros(0, np.int64), options, rng)[0] for _ in range(4000)])
    assert set(draws) <= {0, 1, 2}
    kept = np.exp(logits[:3] / 0.8)
    np.testing.assert_allclose(np.bincount(draws, minlength=3)[:3] / draws.size, kept / kept.sum(), atol=0.03)


def test_sampling_is_reproducible_by_seed():
    logits = np.linspace(-1, 1, 40).astype(np.float32)
    options = SamplingOptions(top_k=20, top_p=0.9, temperature=1.2, repetition_penalty=1.35)

    def draw(seed):
        rng = np.random.default_rng(seed)
        return [sample_next(logits.copy(), np.array([39, 38]), options, rng)[0] for _ in range(50)]

    assert draw(7) == draw(7) and draw(7) != draw(8)


def test_top_p_keeps_tokens_whose_cumulative_probability_stays_within_p():
    # The reference removes every token whose running sum (itself included) exceeds top_p,
    # so the token that crosses the threshold goes too; the best token always stays.
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05], np.float32))
    assert np.isfinite(filter_top_p(logits, 0.85)).tolist() == [True, True, False, False]
    assert np.isfinite(filter_top_p(logits, 0.7)).tolist() == [True, False, False, False]
    assert np.isfinite(filter_top_p(logits, 0.1)).tolist() == [True, False, False, False]


def test_prefill_mask_text_sees_text_audio_sees_text_and_past_audio():
    blocked = np.isinf(prefill_mask(3, 4))
    assert not blocked[:3, :3].any() and blocked[:3, 3:].all()
    assert not blocked[3:, :3].any()
    np.testing.assert_array_equal(blocked[3:, 3:], np.triu(np.ones((4, 4), bool), k=1))


# --- the key/value cache, on the golden tiny model -------------------------------------------------

_loaded: dict[str, object] = {}


def _folder_inputs(version: str):
    if version not in _loaded:
        meta = model_meta(f"gpt/{version}")
        _loaded[version] = load_gpt(model_file(f"gpt/{version}/{meta['checkpoint']}"))
    return _loaded[version], np.load(model_file(f"gpt/{version}/inputs.npz"))


@pytest.mark.parametrize("version", model_subdirs("gpt"))
def test_cached_steps_equal_a_full_prefill(version):
    """The logits of the last cached step equal a fresh prefill over prompt + generated tokens."""
    gpt, inputs = _folder_inputs(version)
    logits = []
    result = gpt.generate(inputs["all_phoneme_ids"], inputs["prompt_semantic"], inputs["bert"], GREEDY,
                          early_stop_num=20, seed=0, on_step=lambda _, raw: logits.append(raw))
    model = gpt.model
    text = model.embed_text(ms.Tensor(inputs["all_phoneme_ids"]), ms.Tensor(inputs["bert"]))
    audio = model.embed_audio(ms.Tensor(result.tokens[:-1]), 0)
    full = model.prefill(text, audio, model.new_cache(1)).asnumpy()[0]
    np.testing.assert_allclose(full, logits[-1], rtol=0, atol=1e-5)


@pytest.mark.parametrize("eager", [False, True], ids=["compiled", "op-by-op"])
@pytest.mark.parametrize("version", model_subdirs("gpt"))
def test_cache_growth_changes_nothing(version, eager, monkeypatch):
    """Op by op the cache's own buffers grow; compiled, the step graph moves to a larger capacity."""
    monkeypatch.setenv("GPT_SOVITS_EAGER", "1" if eager else "0")
    gpt, inputs = _folder_inputs(version)
    args = (inputs["all_phoneme_ids"], inputs["prompt_semantic"], inputs["bert"], GREEDY)
    early_stop_num = model_meta(f"gpt/{version}")["cases"]["main"]["early_stop_num"]
    monkeypatch.setattr(decode_module, "_CACHE_HEADROOM", 1000)
    roomy = gpt.generate(*args, early_stop_num=early_stop_num, seed=0)
    monkeypatch.setattr(decode_module, "_CACHE_HEADROOM", 1)  # forces several doublings
    tight = gpt.generate(*args, early_stop_num=early_stop_num, seed=0)
    np.testing.assert_array_equal(roomy.tokens, tight.tokens)


@pytest.mark.parametrize("version", model_subdirs("gpt"))
def test_compiled_step_moves_through_small_capacities_unchanged(version, monkeypatch):
    """Step graphs of small capacities force several moves between graphs mid-utterance, each copying
    the cache from the previous graph's buffers: tokens and logits must equal one roomy graph's."""
    monkeypatch.setenv("GPT_SOVITS_EAGER", "0")
    gpt, inputs = _folder_inputs(version)
    args = (inputs["all_phoneme_ids"], inputs["prompt_semantic"], inputs["bert"], GREEDY)
    meta = model_meta(f"gpt/{version}")
    early_stop_num = meta["cases"]["main"]["early_stop_num"]
    roomy_logits, small_logits = [], []
    roomy = gpt.generate(*args, early_stop_num=early_stop_num, seed=0,
                         on_step=lambda _, raw: roomy_logits.append(raw))
    bucket = max(2, len(roomy.tokens) - len(inputs["prompt_semantic"])) // 2  # ~3 graphs per utterance
    monkeypatch.setattr(compiled_module, "CAPACITY_BUCKET", bucket)
    monkeypatch.setattr(decode_module, "_CACHE_HEADROOM", 1)
    fresh = load_gpt(model_file(f"gpt/{version}/{meta['checkpoint']}"))  # its graphs: the small capacities
    small = fresh.generate(*args, early_stop_num=early_stop_num, seed=0,
                           on_step=lambda _, raw: small_logits.append(raw))
    np.testing.assert_array_equal(roomy.tokens, small.tokens)
    np.testing.assert_allclose(np.stack(small_logits), np.stack(roomy_logits), rtol=0, atol=1e-5)
    graphs = fresh.model._compiled_decoding()._graphs
    assert len(graphs) >= 2, sorted(graphs)


@pytest.mark.parametrize("version", model_subdirs("gpt"))
def test_compiled_decoding_uses_the_smallest_graphs_that_hold_it(version, monkeypatch):
    """A step reads its whole cache buffers, so decoding starts in the smallest step graph that holds the
    prompt and moves up only when it fills: the graphs used are exactly the buckets of the positions."""
    monkeypatch.setenv("GPT_SOVITS_EAGER", "0")
    meta = model_meta(f"gpt/{version}")
    gpt, inputs = _folder_inputs(version)
    fresh = load_gpt(model_file(f"gpt/{version}/{meta['checkpoint']}"))  # no graphs yet
    start = len(inputs["all_phoneme_ids"]) + len(inputs["prompt_semantic"])
    bucket = 8  # small buckets, so that the utterance crosses several
    monkeypatch.setattr(compiled_module, "CAPACITY_BUCKET", bucket)
    result = fresh.generate(inputs["all_phoneme_ids"], inputs["prompt_semantic"], inputs["bert"], GREEDY,
                            early_stop_num=meta["cases"]["main"]["early_stop_num"], seed=0)
    positions = range(start + 1, start + result.n_steps)  # each step's filled length
    expected = {compiled_module.bucketed(n) for n in positions}
    assert len(expected) >= 2
    assert sorted(fresh.model._compiled_decoding()._graphs) == sorted(expected)


@pytest.mark.parametrize("version", model_subdirs("gpt"))
def test_inputs_outside_the_model_are_refused(version):
    gpt, inputs = _folder_inputs(version)
    phones, prompt, bert = inputs["all_phoneme_ids"], inputs["prompt_semantic"], inputs["bert"]
    with pytest.raises(ValueError, match="phoneme ids"):
        gpt.generate(np.append(phones, gpt.config.phoneme_vocab_size), prompt, np.pad(bert, ((0, 0), (0, 1))))
    with pytest.raises(ValueError, match="BERT"):
        gpt.generate(phones, prompt, bert[:, :-1])
    with pytest.raises(ValueError, match="prompt"):
        gpt.generate(phones, np.append(prompt, gpt.config.vocab_size), bert)
