"""Hostile and broken files: each gives a WeightLoadError naming the file and the problem; nothing runs."""
from __future__ import annotations

import os
import pickle
import zipfile

import numpy as np
import pytest

from golden_data import model_file, model_meta, model_subdirs
from GPT_SoVITS.weights import (
    WeightLoadError,
    load_gpt_checkpoint,
    load_hf_folder,
    load_sovits_checkpoint,
    read_torch_checkpoint,
)
from weights.torch_writer import call, write_torch_zip


def _gpt_path():
    name = model_subdirs("gpt")[0]
    return model_file(f"gpt/{name}/{model_meta(f'gpt/{name}')['checkpoint']}")


def _sovits_path():
    name = model_subdirs("sovits")[0]
    return model_file(f"sovits/{name}/{model_meta(f'sovits/{name}')['checkpoint']}")


def _error(loader, path) -> str:
    with pytest.raises(WeightLoadError) as err:
        loader(path)
    assert str(path) in str(err.value)
    return str(err.value)


@pytest.fixture
def spies(monkeypatch, tmp_path):
    """Record any call of the dangerous functions instead of running it."""
    calls: list[tuple] = []
    monkeypatch.setattr(os, "system", lambda *args: calls.append(("os.system", args)))
    monkeypatch.setattr(os, "remove", lambda *args: calls.append(("os.remove", args)))
    monkeypatch.chdir(tmp_path)
    return calls


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    assert "empty" in _error(read_torch_checkpoint, path)
    assert "empty" in _error(load_sovits_checkpoint, path)


@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_truncated_golden_file(tmp_path, keep):
    data = _gpt_path().read_bytes()
    path = tmp_path / "cut.ckpt"
    path.write_bytes(data[: int(len(data) * keep)])
    assert "truncated" in _error(load_gpt_checkpoint, path)


def test_storage_shorter_than_its_tensor(tmp_path):
    good = write_torch_zip(tmp_path / "good.pth", {"w": np.ones(100, np.float16)})
    bad = tmp_path / "bad.pth"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info.filename, data[:10] if info.filename.endswith("data/0") else data)
    assert "truncated" in _error(read_torch_checkpoint, bad)


@pytest.mark.parametrize("content", [b"hello, this is text", b"\x00" * 64, b"PK\x03\x04 but nothing else"])
def test_not_a_checkpoint(tmp_path, content):
    path = tmp_path / "junk.ckpt"
    path.write_bytes(content)
    message = _error(load_gpt_checkpoint, path)
    assert "not a" in message or "neither" in message


def test_zip_without_a_pickle(tmp_path):
    path = tmp_path / "plain.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hi")
    assert "no <root>/data.pkl" in _error(read_torch_checkpoint, path)


@pytest.mark.parametrize(
    "payload,global_name",
    [
        (call("os", "system", "touch pwned"), "os.system"),
        (call("builtins", "eval", "open('pwned', 'w')"), "builtins.eval"),
        (call("posix", "system", "touch pwned"), "posix.system"),
        (call("os", "remove", "victim"), "os.remove"),
    ],
)
def test_malicious_globals_are_refused_and_never_called(tmp_path, spies, payload, global_name):
    (tmp_path / "victim").write_text("keep me")
    path = write_torch_zip(tmp_path / "evil.pth", {"weight": {"w": np.ones(2, np.float16)}, "config": payload})
    message = _error(read_torch_checkpoint, path)
    assert f"'{global_name}'" in message
    assert spies == []
    assert not (tmp_path / "pwned").exists() and (tmp_path / "victim").exists()


class _Evil:
    def __reduce__(self):
        return os.system, ("touch pwned",)


# Built before any test patches os.system; pickles as STACK_GLOBAL posix.system (protocol 4).
_EVIL_PROTOCOL_4 = pickle.dumps({"weight": _Evil()}, protocol=4)


def test_protocol_4_stack_global_is_refused_too(tmp_path, spies):
    data = _EVIL_PROTOCOL_4
    path = tmp_path / "evil4.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data)
    assert "system'" in _error(read_torch_checkpoint, path)
    assert spies == [] and not (tmp_path / "pwned").exists()


def test_gpt_given_as_sovits_and_sovits_given_as_gpt():
    assert "is a GPT (s1" in _error(load_sovits_checkpoint, _gpt_path())
    assert "is a SoVITS (s2)" in _error(load_gpt_checkpoint, _sovits_path())


def test_bare_state_dict_given_as_a_model():
    path = model_file(f"sv_tiny/{model_meta('sv_tiny')['checkpoint']}")
    assert "bare state dict" in _error(load_sovits_checkpoint, path)


def test_folder_without_config_or_weights(tmp_path):
    assert "no config.json" in _error(load_hf_folder, tmp_path)
    (tmp_path / "config.json").write_text("{}")
    assert "no weights" in _error(load_hf_folder, tmp_path)
    assert "no such model folder" in _error(load_hf_folder, tmp_path / "missing")
