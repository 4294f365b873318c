"""Model-level readers: versions as the reference detects them, HF folders, the MindSpore round trip."""
from __future__ import annotations

import shutil

import mindspore as ms
import numpy as np
import pytest

from golden_data import model_file, model_meta, model_subdirs
from GPT_SoVITS import convert
from GPT_SoVITS.weights import (
    HParams,
    WeightLoadError,
    identify_weights,
    load_gpt_checkpoint,
    load_hf_folder,
    load_sovits_checkpoint,
    load_speaker_verifier_checkpoint,
)
from GPT_SoVITS.weights.version import HEAD_TO_VERSION, V1_MAX_BYTES, V2_MAX_BYTES, SovitsVersion, version_from_file

SOVITS = model_subdirs("sovits")
GPT = model_subdirs("gpt")
HF_FOLDERS = [("bert", "chinese-roberta-wwm-ext-large"), ("hubert", "chinese-hubert-base")]


def _sovits_path(name: str):
    return model_file(f"sovits/{name}/{model_meta(f'sovits/{name}')['checkpoint']}")


def _symbols(meta: dict) -> str:
    """The symbol set the reference read from the text-embedding rows (Pro files record it apart)."""
    load = meta["load"]
    return load.get("symbols_version_from_text_embedding_rows", load["final_hps_model_version"])


def _with_head(tmp_path, source, head: bytes):
    target = tmp_path / f"{head.decode()}_{source.name}"
    shutil.copyfile(source, target)
    with open(target, "r+b") as handle:  # what process_ckpt.my_save2 does to a saved file
        handle.write(head)
    return target


@pytest.mark.parametrize("name", SOVITS)
def test_sovits_version_matches_the_reference_load_report(name):
    meta = model_meta(f"sovits/{name}")
    path = _sovits_path(name)
    assert list(version_from_file(path).__dict__.values()) == meta["load"]["get_sovits_version_from_path_fast"]
    with open(path, "rb") as handle:
        assert handle.read(2).decode() == meta["load"]["header"]
    ckpt = load_sovits_checkpoint(path)
    assert ckpt.version.model == ckpt.hps.model.version == meta["load"]["final_hps_model_version"]
    assert ckpt.version.symbols == _symbols(meta)
    assert ckpt.hps.model.semantic_frame_rate == "25hz"
    assert ckpt.info == meta["load"]["info"]
    assert sum(a.size for a in ckpt.state.values()) == meta["n_params_saved"]


@pytest.mark.parametrize("name", SOVITS)
@pytest.mark.parametrize("head", [b"00", b"01", b"05", b"06", b"PK"])
def test_version_tags_written_into_golden_files(tmp_path, name, head):
    meta = model_meta(f"sovits/{name}")
    path = _with_head(tmp_path, _sovits_path(name), head)
    fast = version_from_file(path)
    if head != b"PK":
        assert fast == HEAD_TO_VERSION[head]
    elif "get_sovits_version_from_path_fast_if_header_were_PK" in meta["load"]:
        assert list(fast.__dict__.values()) == meta["load"]["get_sovits_version_from_path_fast_if_header_were_PK"]
    ckpt = load_sovits_checkpoint(path)
    expected = fast.model if fast.is_pro else _symbols(meta)
    assert ckpt.version == SovitsVersion(_symbols(meta), expected)
    assert ckpt.hps.model.version == expected


@pytest.mark.parametrize("head", [b"02", b"03", b"04"])
def test_versions_we_do_not_run_are_refused_by_name(tmp_path, head):
    path = _with_head(tmp_path, _sovits_path(SOVITS[0]), head)
    expected = HEAD_TO_VERSION[head]
    with pytest.raises(WeightLoadError, match=f"SoVITS {expected.model}{' LoRA' if expected.lora else ''} models"):
        load_sovits_checkpoint(path)


def test_unknown_version_tag_is_named(tmp_path):
    path = _with_head(tmp_path, _sovits_path(SOVITS[0]), b"09")
    with pytest.raises(WeightLoadError, match="unknown SoVITS version tag b'09'"):
        load_sovits_checkpoint(path)


@pytest.mark.parametrize("size,model", [(V1_MAX_BYTES - 1, "v1"), (V1_MAX_BYTES, "v2"), (V2_MAX_BYTES, "v3")])
def test_untagged_files_are_judged_by_size_like_the_reference(tmp_path, size, model):
    path = tmp_path / "big.pth"
    with open(path, "wb") as handle:
        handle.write(b"PK\x03\x04")
        handle.truncate(size)  # sparse: no disk used
    assert version_from_file(path).model == model


@pytest.mark.parametrize("name", GPT)
def test_gpt_checkpoint_strips_the_lightning_prefix(name):
    meta = model_meta(f"gpt/{name}")
    ckpt = load_gpt_checkpoint(model_file(f"gpt/{name}/{meta['checkpoint']}"))
    assert ckpt.version == meta["version"]
    assert ckpt.config["model"] == meta["config_model"]
    assert not any(key.startswith("model.") for key in ckpt.state)
    assert "ar_predict_layer.weight" in ckpt.state


def test_speaker_verifier_state_dict():
    meta = model_meta("sv_tiny")
    state = load_speaker_verifier_checkpoint(model_file(f"sv_tiny/{meta['checkpoint']}"))
    assert len(state) == meta["load"]["n_tensors"]
    assert sorted({str(a.dtype) for a in state.values()}) == sorted(d.replace("torch.", "") for d in meta["load"]["dtypes"])


@pytest.mark.parametrize("group,folder", HF_FOLDERS)
def test_hugging_face_folders(group, folder):
    meta = model_meta(group)
    hf = load_hf_folder(model_file(f"{group}/{folder}/pytorch_model.bin").parent)
    for key, value in meta["config"].items():
        assert hf.config[key] == value, key
    assert all(a.dtype == np.float16 for a in hf.state.values())


def test_safetensors_folders_are_read_too(tmp_path):
    from safetensors.numpy import save_file

    source = load_hf_folder(model_file("hubert/chinese-hubert-base/pytorch_model.bin").parent)
    shutil.copyfile(source.path / "config.json", tmp_path / "config.json")
    save_file({k: np.ascontiguousarray(v) for k, v in source.state.items()}, str(tmp_path / "model.safetensors"))
    copy = load_hf_folder(tmp_path)
    assert copy.state.keys() == source.state.keys()
    assert all(np.array_equal(copy.state[k], v) for k, v in source.state.items())


def _same_state(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape and np.array_equal(a[key], b[key]), key


@pytest.mark.parametrize("name", SOVITS)
def test_sovits_round_trip_through_the_ports_mindspore_format(tmp_path, name):
    source = _sovits_path(name)
    assert convert.main(["--s_path", str(source), "--out_dir", str(tmp_path)]) == 0
    target = tmp_path / convert.SOVITS_DIR / f"{source.stem}-ms.ckpt"
    raw = ms.load_checkpoint(str(target))  # the port's names and a JSON config, as its convert.py wrote
    assert isinstance(raw["config"], str) and not any(k.endswith((".gamma", ".beta")) for k in raw)
    assert any(k.endswith(".layer_norm.weight") for k in raw)
    before, after = load_sovits_checkpoint(source), load_sovits_checkpoint(target)
    assert (after.version, after.info, after.hps) == (before.version, before.info, before.hps)
    assert isinstance(after.hps, HParams)
    _same_state(before.state, after.state)


@pytest.mark.parametrize("name", GPT)
def test_gpt_round_trip_through_the_ports_mindspore_format(tmp_path, name):
    source = model_file(f"gpt/{name}/{model_meta(f'gpt/{name}')['checkpoint']}")
    assert convert.main(["--g_path", str(source), "--out_dir", str(tmp_path)]) == 0
    target = tmp_path / convert.GPT_DIR / f"{source.stem}-ms.ckpt"
    raw = ms.load_checkpoint(str(target))
    assert not any(k.startswith("model.") or ".linear1." in k for k in raw) and any(".dense1." in k for k in raw)
    before, after = load_gpt_checkpoint(source), load_gpt_checkpoint(target)
    assert (after.version, after.info, after.config) == (before.version, before.info, before.config)
    _same_state(before.state, after.state)


def test_speaker_verifier_round_trip(tmp_path):
    source = model_file(f"sv_tiny/{model_meta('sv_tiny')['checkpoint']}")
    assert convert.main(["--sv_path", str(source), "--out_dir", str(tmp_path)]) == 0
    target = tmp_path / convert.SV_DIR / f"{source.stem}-ms.ckpt"
    _same_state(load_speaker_verifier_checkpoint(source), load_speaker_verifier_checkpoint(target))


def test_convert_reports_a_wrong_file_and_skips_missing_flags(tmp_path, capsys):
    gpt = model_file(f"gpt/{GPT[0]}/{model_meta(f'gpt/{GPT[0]}')['checkpoint']}")
    assert convert.main(["--s_path", str(gpt), "--out_dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "Skip GPT model conversion" in captured.out
    assert "is a GPT (s1" in captured.err and str(gpt) in captured.err


def _golden_weights() -> list[tuple[str, str]]:
    cases = [(f"gpt/{n}/{model_meta(f'gpt/{n}')['checkpoint']}", "gpt") for n in GPT]
    cases += [(f"sovits/{n}/{model_meta(f'sovits/{n}')['checkpoint']}", "sovits") for n in SOVITS]
    cases += [(f"{group}/{folder}/pytorch_model.bin", "hf_folder") for group, folder in HF_FOLDERS]
    return cases + [(f"sv_tiny/{model_meta('sv_tiny')['checkpoint']}", "speaker_verifier")]


@pytest.mark.parametrize("relative,kind", _golden_weights())
def test_identify_weights_sorts_a_folder_of_mixed_files(relative, kind):
    path = model_file(relative)
    assert identify_weights(path.parent if kind == "hf_folder" else path) == kind
    if kind == "hf_folder":  # the weights file alone is a bare state dict
        assert identify_weights(path) == "state_dict"
