"""The torch-free zip reader on the golden checkpoints and on files written here in the same layout."""
from __future__ import annotations

import collections
import zipfile

import numpy as np
import pytest

from golden_data import model_file, model_meta, model_subdirs
from GPT_SoVITS.weights import HParams, read_torch_checkpoint
from weights.torch_writer import RawTensor, write_torch_zip

SV_META = "sv_tiny"


def _zip_root(path) -> str:
    with open(path, "rb") as handle, zipfile.ZipFile(handle) as archive:
        return archive.infolist()[0].filename.split("/")[0]


@pytest.mark.parametrize("version", model_subdirs("gpt"))
def test_gpt_checkpoints_read_as_the_reference_saved_them(version):
    meta = model_meta(f"gpt/{version}")
    path = model_file(f"gpt/{version}/{meta['checkpoint']}")
    assert _zip_root(path) == meta["zip_root_folder"]
    ckpt = read_torch_checkpoint(path)
    assert list(ckpt) == ["weight", "config", "info"]
    assert ckpt["config"]["model"] == meta["config_model"]
    assert ckpt["config"]["data"]["max_sec"] == meta["max_sec"]
    weight = ckpt["weight"]
    assert all(key.startswith("model.") for key in weight)
    assert {array.dtype for array in weight.values()} == {np.dtype(np.float16)}
    rows = weight["model.ar_text_embedding.word_embeddings.weight"].shape
    assert rows == (meta["config_model"]["phoneme_vocab_size"], meta["config_model"]["embedding_dim"])


@pytest.mark.parametrize("version", model_subdirs("sovits"))
def test_sovits_checkpoints_keep_their_hparams_and_fp16_weights(version):
    meta = model_meta(f"sovits/{version}")
    ckpt = read_torch_checkpoint(model_file(f"sovits/{version}/{meta['checkpoint']}"))
    hps = ckpt["config"]
    assert isinstance(hps, HParams)
    # meta.json leaves out the top-level entries that are None (`pretrain`, `resume_step`)
    assert {k: v for k, v in hps.to_dict().items() if v is not None or k in meta["hps"]} == meta["hps"]
    assert hps.model.inter_channels == meta["hps"]["model"]["inter_channels"]
    assert hps["data"]["hop_length"] == meta["hps"]["data"]["hop_length"]
    assert ckpt["info"] == meta["load"]["info"]
    weight = ckpt["weight"]
    assert sum(array.size for array in weight.values()) == meta["n_params_saved"]
    assert not any(key.startswith("enc_q.") for key in weight)
    assert {array.dtype for array in weight.values()} == {np.dtype(np.float16)}


def test_speaker_verifier_is_a_bare_state_dict_with_int64_counters():
    meta = model_meta(SV_META)
    state = read_torch_checkpoint(model_file(f"{SV_META}/{meta['checkpoint']}"))
    load = meta["load"]
    assert isinstance(state, collections.OrderedDict) and hasattr(state, "_metadata") == load["has_metadata"]
    assert len(state) == load["n_tensors"]
    assert sum(array.size for array in state.values()) == load["n_values"]
    ints = [key for key, array in state.items() if array.dtype == np.int64]
    assert len(ints) == load["n_int64_tensors"]
    assert all(key.endswith("num_batches_tracked") for key in ints)
    assert state["conv1.weight"].shape == tuple(meta["architecture"]["shapes"]["conv1_weight"])


def test_bert_decoder_stays_tied_to_the_word_embeddings():
    state = read_torch_checkpoint(model_file("bert/chinese-roberta-wwm-ext-large/pytorch_model.bin"))
    embeddings, decoder = state["bert.embeddings.word_embeddings.weight"], state["cls.predictions.decoder.weight"]
    assert np.shares_memory(embeddings, decoder)
    assert embeddings.shape[0] == model_meta("bert")["vocab_size"]


def test_hubert_keeps_the_old_weight_norm_names():
    state = read_torch_checkpoint(model_file("hubert/chinese-hubert-base/pytorch_model.bin"))
    kernel = model_meta("hubert")["config"]["num_conv_pos_embeddings"]
    assert state["encoder.pos_conv_embed.conv.weight_g"].shape == (1, 1, kernel)
    assert state["encoder.pos_conv_embed.conv.weight_v"].shape[-1] == kernel


@pytest.mark.parametrize("root", ["archive", "1732500000.123456", "my.model", "s2G488k"])
@pytest.mark.parametrize("head", [b"PK", b"05", b"06"])
def test_views_ties_roots_and_version_tags(tmp_path, root, head):
    base = np.arange(60, dtype=np.float16).reshape(6, 10)
    weight = {"w": base, "t": base.T, "cut": base[1:5:2, 3:9], "n": np.arange(4), "f": np.ones(3, np.float32)}
    path = write_torch_zip(tmp_path / "x.pth", {"weight": weight, "config": HParams(model={"a": 1})}, root=root, head=head)
    ckpt = read_torch_checkpoint(path)
    for key, array in weight.items():
        assert ckpt["weight"][key].dtype == array.dtype and np.array_equal(ckpt["weight"][key], array), key
    assert not ckpt["weight"]["t"].flags.c_contiguous
    assert np.shares_memory(ckpt["weight"]["w"], ckpt["weight"]["cut"])
    assert ckpt["config"].model.a == 1


def test_geometries_real_checkpoints_may_hold(tmp_path):
    """What the hostile-geometry checks must let through: a size-1 dimension with stride 0 (PyTorch's
    `expand`, e.g. BERT's `position_ids`), empty tensors, and a bfloat16 view widened to float32."""
    values = np.arange(24, dtype=np.float32)  # whole numbers: exact in bfloat16
    bfloat16 = (values.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    weight = {
        "expanded": RawTensor(np.arange(5, dtype=np.float16).tobytes(), "HalfStorage", 5, (1, 5), (0, 1)),
        "empty": RawTensor(b"", "HalfStorage", 0, (0, 512), (512, 1)),
        "bf16": RawTensor(bfloat16, "BFloat16Storage", 24, (4, 3), (1, 6), offset=2),  # transposed slice
    }
    ckpt = read_torch_checkpoint(write_torch_zip(tmp_path / "x.pth", {"weight": weight}))["weight"]
    np.testing.assert_array_equal(ckpt["expanded"], np.arange(5, dtype=np.float16)[None])
    assert ckpt["empty"].shape == (0, 512)
    expected = values[2:20].reshape(3, 6)[:, :4].T
    assert ckpt["bf16"].dtype == np.float32 and np.array_equal(ckpt["bf16"], expected)


def test_tensors_are_read_only_views_of_the_file(tmp_path):
    path = write_torch_zip(tmp_path / "x.pth", {"w": np.ones(8, np.float16)})
    with pytest.raises(ValueError):
        read_torch_checkpoint(path)["w"][0] = 2
