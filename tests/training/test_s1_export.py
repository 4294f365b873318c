"""The GPT file a fine-tuning run exports is the reference web UI's: `{"weight": fp16 "model.*" tensors,
"config", "info": "GPT-e<epoch>"}` in torch's zip format (written without torch; torch.load reading it is
checked by tools/training_golden/check_torch_zip_writer.py), which the project's reader and the
inference GPT load back."""
from __future__ import annotations

import numpy as np

from s1_golden import meta, tiny_model, training_batches
from GPT_SoVITS.models.gpt.backend import load_gpt
from GPT_SoVITS.training.s1 import S1Trainer
from GPT_SoVITS.weights import load_gpt_checkpoint, read_torch_checkpoint


def test_export_round_trip_into_the_inference_gpt(tmp_path):
    trainer = S1Trainer(tiny_model(), meta()["config"], dropout=0.0)
    for batch in training_batches() * 2:  # one optimiser step, so the weights are the trained ones
        trainer.train_step(batch)
    trainer.end_epoch()
    path = trainer.export(tmp_path / "GPT_weights_v2", "voice")
    assert path.name == "voice-e1.ckpt"
    raw = read_torch_checkpoint(path)
    assert list(raw) == ["weight", "config", "info"] and raw["info"] == "GPT-e1"
    assert all(name.startswith("model.") and value.dtype == np.float16 for name, value in raw["weight"].items())
    assert raw["config"]["model"] == meta()["config"]["model"]

    checkpoint = load_gpt_checkpoint(path)
    assert checkpoint.version == "v2"
    gpt = load_gpt(path)  # strict: every parameter of the inference model, nothing else
    for name, param in gpt.model.parameters_and_names():
        expected = trainer.weights()[name].astype(np.float16).astype(np.float32)
        np.testing.assert_array_equal(param.asnumpy(), expected, err_msg=name)
    assert gpt.max_sec == meta()["config"]["data"]["max_sec"]


def test_from_pretrained_reads_an_exported_file(tmp_path):
    trainer = S1Trainer(tiny_model(), meta()["config"], dropout=0.0)
    path = trainer.export(tmp_path, "base")
    again = S1Trainer.from_pretrained(path, batch_size=4, epochs=3, exp_name="next")
    assert again.config["model"] == meta()["config"]["model"]
    assert again.config["train"]["batch_size"] == 4 and again.config["pretrained_s1"] == str(path)
    for name, value in trainer.weights().items():
        np.testing.assert_array_equal(again.weights()[name], value.astype(np.float16).astype(np.float32))


def test_fresh_weights_as_torch_initialises_them():
    trainer = S1Trainer.from_pretrained(None, meta()["config"], exp_name="scratch")
    weights = trainer.weights()
    assert set(weights) == set(meta()["param_names"])
    assert (weights["ar_text_position.alpha"] == 1).all() and (weights["h.layers.0.norm1.weight"] == 1).all()
    assert not weights["h.layers.0.self_attn.in_proj_bias"].any()
    assert 0.9 < weights["ar_audio_embedding.word_embeddings.weight"].std() < 1.1
    bound = 1 / np.sqrt(weights["bert_proj.weight"].shape[1])
    assert np.abs(weights["bert_proj.weight"]).max() <= bound
    assert np.isfinite(trainer.train_step(training_batches()[0])["loss"])


def test_export_has_the_layout_of_a_reference_written_gpt_file(tmp_path):
    """Against a GPT file the reference itself wrote (the model goldens' v1 checkpoint): the same
    top-level entries, the same weight names in the same order, half precision, the same shapes."""
    from golden_data import model_file

    reference_path = model_file("gpt/v1/model.ckpt")
    reference = read_torch_checkpoint(reference_path)
    trainer = S1Trainer.from_pretrained(reference_path, reference["config"], batch_size=4, epochs=15,
                                        exp_name="golden_tiny", save_every_n_epoch=5)
    trainer.end_epoch()
    ours = read_torch_checkpoint(trainer.export(tmp_path, "golden_tiny"))
    assert list(ours) == list(reference)
    assert list(ours["weight"]) == list(reference["weight"])
    for name, value in reference["weight"].items():
        assert (ours["weight"][name].dtype, ours["weight"][name].shape) == (value.dtype, value.shape), name
        np.testing.assert_array_equal(ours["weight"][name], value)  # no step taken: the same weights
    assert list(ours["config"]) == list(reference["config"])  # its config as the base: sections kept
    assert ours["config"]["model"] == reference["config"]["model"]
    assert ours["config"]["train"]["save_every_n_epoch"] == 5 and ours["info"] == "GPT-e1"
