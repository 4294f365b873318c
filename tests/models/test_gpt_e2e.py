"""BERT -> GPT stages of the golden `get_tts_wav` run (`e2e/`): the same models, the webui's arguments.

Checks that the Chinese BERT features of both texts (prompt, target) and the semantic tokens handed to
SoVITS equal the reference's, reading texts, word2ph, model paths and arguments from `e2e/meta.json`.
"""
from __future__ import annotations

import posixpath

import numpy as np
from golden_data import model_file, model_meta

from GPT_SoVITS.models.bert import ChineseBert
from GPT_SoVITS.models.gpt import SamplingOptions, load_gpt

ATOL_LOGITS = 1e-5
ATOL_FEATURE = 5e-5


def e2e_model(meta: dict, name: str):
    """A model path of `meta["models"]` (relative to e2e/, e.g. `../gpt/v2/model.ckpt`)."""
    return model_file(posixpath.normpath(posixpath.join("e2e", meta["models"][name])))


def frontend_call(meta: dict, role: str) -> dict:
    """The `clean_text_inf` call whose normalised text is the prompt's or the target's."""
    return next(call for call in meta["frontend_calls"] if call["norm_text"] == meta["norm_text"][role])


def bert_features(meta: dict) -> dict[str, np.ndarray]:
    # The weights file decides where the whole folder is read from (repo copy or shared goldens).
    folder = posixpath.normpath(posixpath.join("e2e", meta["models"]["bert"]))
    bert = ChineseBert(model_file(f"{folder}/pytorch_model.bin").parent)
    return {role: bert.phone_features(frontend_call(meta, role)["norm_text"], frontend_call(meta, role)["word2ph"])
            for role in ("prompt", "target")}


def generate(meta: dict, golden, bert: np.ndarray):
    gpt = load_gpt(e2e_model(meta, "gpt"))
    kwargs = meta["infer_panel_kwargs"]  # the webui leaves repetition_penalty at its default
    options = SamplingOptions(top_k=kwargs["top_k"], top_p=kwargs["top_p"], temperature=kwargs["temperature"])
    logits = []
    result = gpt.generate(golden["all_phoneme_ids"], golden["prompt_codes"], bert, options,
                          early_stop_num=kwargs["early_stop_num"], seed=0,
                          on_step=lambda _, raw: logits.append(raw))
    return result, logits


def test_bert_features_of_prompt_and_target():
    meta, golden = model_meta("e2e"), np.load(model_file("e2e/golden.npz"))
    features = bert_features(meta)
    for role in ("prompt", "target"):
        np.testing.assert_allclose(features[role], golden[f"{role}_bert"], rtol=0, atol=ATOL_FEATURE, err_msg=role)


def test_semantic_tokens_from_the_reference_inputs():
    meta, golden = model_meta("e2e"), np.load(model_file("e2e/golden.npz"))
    bert = np.concatenate([golden["prompt_bert"], golden["target_bert"]], axis=1)
    result, logits = generate(meta, golden, bert)
    np.testing.assert_allclose(logits[0], golden["first_step_logits"], rtol=0, atol=ATOL_LOGITS)
    np.testing.assert_array_equal(result.tokens, golden["y_full"])
    np.testing.assert_array_equal(result.webui_tokens, golden["pred_semantic"])
    assert (result.n_steps, result.idx, result.eos) == (meta["n_steps"], meta["idx_returned"], meta["eos_reached"])


def test_semantic_tokens_from_our_bert_features():
    meta, golden = model_meta("e2e"), np.load(model_file("e2e/golden.npz"))
    features = bert_features(meta)
    result, _ = generate(meta, golden, np.concatenate([features["prompt"], features["target"]], axis=1))
    np.testing.assert_array_equal(result.webui_tokens, golden["pred_semantic"])
