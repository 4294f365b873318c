"""The compiled prefill pads to a length bucket; padding must not change the real rows.

For every `gpt/<version>` golden checkpoint, prompts cut from the folder's inputs to lengths on both
sides of a bucket edge are prefilled compiled (`GPT_SOVITS_COMPILED_PREFILL=1`, off by default on the
CPU) and op by op (`GPT_SOVITS_EAGER=1`): the logits and the cached keys and values must agree, and
the cache must hold exactly the real positions.
"""
from __future__ import annotations

import numpy as np
import pytest
import mindspore as ms
from golden_data import model_file, model_meta, model_subdirs

from GPT_SoVITS.models.gpt import load_gpt
from GPT_SoVITS.models.gpt.prefill import PREFILL_BUCKET

ATOL = 1e-5  # the parity tests' tolerance on logits


def prefill(model, text, audio, eager: bool, monkeypatch) -> tuple[np.ndarray, list[np.ndarray], int]:
    monkeypatch.setenv("GPT_SOVITS_EAGER", "1" if eager else "0")
    monkeypatch.setenv("GPT_SOVITS_COMPILED_PREFILL", "0" if eager else "1")
    cache = model.new_cache(text.shape[0] + audio.shape[0] + 8)
    logits = model.prefill(text, audio, cache).asnumpy()
    return logits, [k.asnumpy()[:, : cache.length] for k in cache.keys], cache.length


@pytest.mark.parametrize("version", model_subdirs("gpt"))
def test_padded_prefill_matches_op_by_op(version, monkeypatch):
    folder = f"gpt/{version}"
    gpt = load_gpt(model_file(f"{folder}/{model_meta(folder)['checkpoint']}"))
    inputs = np.load(model_file(f"{folder}/inputs.npz"))
    phones, prompt = inputs["all_phoneme_ids"], inputs["prompt_semantic"]
    text = gpt.model.embed_text(ms.Tensor(phones.astype(np.int64)), ms.Tensor(inputs["bert"].astype(np.float32)))
    for total in (PREFILL_BUCKET - 1, PREFILL_BUCKET + 1, phones.size + prompt.size):
        n_audio = min(prompt.size, max(1, total - phones.size))
        audio = gpt.model.embed_audio(ms.Tensor(prompt[:n_audio].astype(np.int64)), 0)
        compiled, compiled_keys, length = prefill(gpt.model, text, audio, False, monkeypatch)
        eager, eager_keys, eager_length = prefill(gpt.model, text, audio, True, monkeypatch)
        assert length == eager_length == phones.size + n_audio
        np.testing.assert_allclose(compiled, eager, rtol=0, atol=ATOL)
        for got, want in zip(compiled_keys, eager_keys):
            np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)


def test_the_prefill_graph_is_off_on_the_cpu_by_default(monkeypatch):
    """The prefill (~5% faster compiled, ~3 s of compilation per bucket) runs op by op on the CPU by
    default and compiled elsewhere."""
    from GPT_SoVITS import runtime

    enabled, variable = runtime.compiled_prefill, "GPT_SOVITS_COMPILED_PREFILL"
    monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("GPT_SOVITS_EAGER", raising=False)
    monkeypatch.setattr(runtime, "_configured", runtime.Runtime("CPU", 0))
    assert not enabled()
    monkeypatch.setattr(runtime, "_configured", runtime.Runtime("Ascend", 0))
    assert enabled()
    monkeypatch.setenv("GPT_SOVITS_EAGER", "1")
    assert not enabled()
    monkeypatch.setenv("GPT_SOVITS_EAGER", "0")
    monkeypatch.setenv(variable, "0")
    assert not enabled()
    monkeypatch.setattr(runtime, "_configured", runtime.Runtime("CPU", 0))
    monkeypatch.setenv(variable, "1")
    assert enabled()


def test_the_generator_graph_is_on_everywhere_unless_switched_off(monkeypatch):
    from GPT_SoVITS import runtime

    monkeypatch.delenv("GPT_SOVITS_COMPILED_GENERATOR", raising=False)
    monkeypatch.delenv("GPT_SOVITS_EAGER", raising=False)
    for target in ("CPU", "Ascend"):
        monkeypatch.setattr(runtime, "_configured", runtime.Runtime(target, 0))
        assert runtime.compiled_generator()
    monkeypatch.setenv("GPT_SOVITS_EAGER", "1")
    assert not runtime.compiled_generator()
    monkeypatch.setenv("GPT_SOVITS_EAGER", "0")
    monkeypatch.setenv("GPT_SOVITS_COMPILED_GENERATOR", "0")
    assert not runtime.compiled_generator()
