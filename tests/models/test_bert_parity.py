"""The MindSpore Chinese BERT against the reference's `get_bert_feature`, for every sentence of `bert/`.

The folder name, sentences, word2ph and expected arrays all come from the golden files; the tolerance
is the golden README's suggested check for the phone-level feature.
"""
from __future__ import annotations

import numpy as np
import pytest
from golden_data import model_file, model_meta

from GPT_SoVITS.models.bert import BERT_FEATURE_DIM, ChineseBert, bert_features, encoder_state

ATOL_FEATURE = 5e-5  # README: float32 noise of the reference ~2.7e-6, suggested check 5e-5

_bert: list[ChineseBert] = []


def bert() -> ChineseBert:
    if not _bert:
        meta = model_meta("bert")
        # The weights file decides where the whole folder is read from (repo copy or shared goldens).
        _bert.append(ChineseBert(model_file(f"bert/{meta['folder']}/pytorch_model.bin").parent))
    return _bert[0]


def cases() -> list[tuple[str, dict, np.lib.npyio.NpzFile]]:
    meta = model_meta("bert")
    golden = np.load(model_file("bert/golden.npz"))
    names = sorted({key.split(".", 1)[0] for key in golden.files})
    return [(name, meta["cases"][name], golden) for name in names]


def test_config_read_from_folder():
    meta = model_meta("bert")
    cfg = bert().config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.intermediate_size) == (
        meta["config"]["hidden_size"], meta["config"]["num_hidden_layers"],
        meta["config"]["num_attention_heads"], meta["config"]["intermediate_size"])
    assert cfg.layer_norm_eps == meta["config"]["layer_norm_eps"]


def test_only_the_layers_the_feature_runs_are_kept():
    """hidden_states[-3] never runs the file's last two layers: their weights are dropped after loading."""
    meta = model_meta("bert")
    layers = len(bert().model.encoder.layer)
    assert layers == meta["config"]["num_hidden_layers"] - 2
    assert not any(name.startswith(f"encoder.layer.{layers}.") for name, _ in bert().model.parameters_and_names())


def test_tokenizer_ids():
    for name, case, golden in cases():
        ids, type_ids = bert().encode(case["text"])
        np.testing.assert_array_equal(ids, golden[f"{name}.input_ids"], err_msg=name)
        np.testing.assert_array_equal(type_ids, golden[f"{name}.token_type_ids"], err_msg=name)


def test_unknown_character_maps_to_unk():
    meta = model_meta("bert")
    unk = bert().tokenizer.token_to_id("[UNK]")
    ids, _ = bert().encode(meta["oov_char_mapped_to_UNK"])
    assert ids[1:-1].tolist() == [unk]


def test_third_to_last_hidden_state():
    for name, case, golden in cases():
        np.testing.assert_allclose(bert().token_features(case["text"]), golden[f"{name}.hidden_state_m3"],
                                   rtol=0, atol=ATOL_FEATURE, err_msg=name)


def test_phone_level_feature():
    for name, case, golden in cases():
        word2ph = golden[f"{name}.word2ph"].tolist()
        feature = bert().phone_features(case["text"], word2ph)
        expected = golden[f"{name}.phone_level_feature"]
        assert feature.shape == expected.shape == (BERT_FEATURE_DIM, sum(word2ph))
        np.testing.assert_allclose(feature, expected, rtol=0, atol=ATOL_FEATURE, err_msg=name)


def test_other_languages_get_zero_features():
    features = bert_features(None, "en", "hello", None, n_phones=7)
    assert features.shape == (BERT_FEATURE_DIM, 7) and not features.any()


def test_chinese_through_get_bert_inf_equals_phone_features():
    name, case, golden = cases()[0]
    word2ph = golden[f"{name}.word2ph"].tolist()
    features = bert_features(bert(), "all_zh", case["text"], word2ph, n_phones=sum(word2ph))
    np.testing.assert_array_equal(features, bert().phone_features(case["text"], word2ph))


def test_word2ph_must_cover_every_character():
    name, case, golden = cases()[0]
    with pytest.raises(ValueError):
        bert().phone_features(case["text"], golden[f"{name}.word2ph"].tolist()[:-1])


def test_encoder_state_drops_heads_and_renames_like_from_pretrained():
    state = {"bert.encoder.layer.0.output.LayerNorm.gamma": 1, "bert.encoder.layer.0.output.LayerNorm.beta": 2,
             "bert.embeddings.word_embeddings.weight": 3, "bert.embeddings.position_ids": 4,
             "cls.predictions.bias": 5, "bert.pooler.dense.weight": 6}
    assert encoder_state(state) == {"encoder.layer.0.output.LayerNorm.weight": 1,
                                    "encoder.layer.0.output.LayerNorm.bias": 2, "embeddings.word_embeddings.weight": 3}


def test_compiled_graph_serves_every_length_as_op_by_op(monkeypatch):
    """One graph with a dynamic token axis, built by `compile`, gives op by op's features for sentences
    of different lengths; before `compile`, or switched off, BERT runs op by op."""
    from GPT_SoVITS.models import bert as bert_module

    fresh = ChineseBert(model_file(f"bert/{model_meta('bert')['folder']}/pytorch_model.bin").parent)
    texts = [case["text"] for _, case, _ in cases()]
    assert len({len(text) for text in texts}) > 1
    graph_runs = []
    real_inputs = bert_module.graph_inputs
    monkeypatch.setattr(bert_module, "graph_inputs", lambda *args: graph_runs.append(1) or real_inputs(*args))

    eager = [fresh.token_features(text) for text in texts]
    assert not graph_runs  # not compiled yet: op by op
    fresh.model.compile(fresh.feature_layers)
    graph_runs.clear()
    for text, expected in zip(texts, eager):
        np.testing.assert_allclose(fresh.token_features(text), expected, rtol=0, atol=1e-6, err_msg=text)
    assert len(graph_runs) == len(texts)

    monkeypatch.setenv("GPT_SOVITS_COMPILED_BERT", "0")
    graph_runs.clear()
    np.testing.assert_allclose(fresh.token_features(texts[0]), eager[0], rtol=0, atol=1e-6)
    assert not graph_runs
