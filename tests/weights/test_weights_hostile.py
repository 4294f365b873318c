"""Hostile and broken files: each gives a WeightLoadError naming the file and the problem; nothing runs."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from golden_data import model_file, model_meta, model_subdirs
from support.required import need_path
from GPT_SoVITS.weights import (
    WeightLoadError,
    load_gpt_checkpoint,
    load_hf_folder,
    load_sovits_checkpoint,
    read_torch_checkpoint,
)
from weights.torch_writer import RawTensor, call, stride_zero_bomb, write_torch_zip

REPO = Path(__file__).resolve().parents[2]
BOMB_ELEMENTS = 2**27  # widened to float32: 512 MiB, plus as much again for the widening's temporary
PEAK_MIB = 32  # what reading a refused file of a few hundred bytes may add to the process's peak memory


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


def _half(values: list[float]) -> bytes:
    return np.asarray(values, np.float16).tobytes()


# Each: a tensor `weight['w']` of a few bytes whose geometry no weight file has, and what the error says.
GEOMETRIES = {
    "huge dims": (RawTensor(_half([1] * 4), "HalfStorage", 4, (2**62, 4), (0, 1)), "beyond"),
    "empty but huge": (RawTensor(b"", "HalfStorage", 0, (0, 2**40, 2**40), (1, 1, 1)), "more than"),
    "too many dims": (RawTensor(_half([1]), "HalfStorage", 1, (1,) * 40, (1,) * 40), "40 dimensions"),
    "size as text": (RawTensor(_half([1] * 4), "HalfStorage", 4, ("4",), (1,)), "whole numbers"),
    "negative stride": (RawTensor(_half([1] * 4), "HalfStorage", 4, (4,), (-1,), offset=3), "negative"),
    "overlapping strides": (RawTensor(_half([1] * 16), "HalfStorage", 16, (4, 4), (1, 1)), "overlap"),
    "stride 0": (RawTensor(_half([1] * 4), "HalfStorage", 4, (3, 4), (0, 1)), "stride 0 on dimension 0"),
    "offset past the entry": (RawTensor(_half([1] * 4), "HalfStorage", 4, (1,), (1,), offset=10**6), "runs past"),
    "storage larger than its entry": (RawTensor(_half([1] * 4), "HalfStorage", 1000, (1000,), (1,)), "declares 1000"),
}


@pytest.mark.parametrize("case", GEOMETRIES)
def test_impossible_tensor_geometry_is_refused_naming_the_tensor(tmp_path, case):
    tensor, says = GEOMETRIES[case]
    path = write_torch_zip(tmp_path / "odd.pth", {"weight": {"ok": np.ones(2, np.float16), "w": tensor}})
    message = _error(read_torch_checkpoint, path)
    assert "tensor weight['w'] refused" in message and says in message, message


def test_refused_tensor_is_found_past_shared_and_cyclic_containers(tmp_path):
    """Pickle's memo lets a small file hold 2**64 paths through shared lists, and loops: the walk that
    names a refused tensor visits each container once."""
    shared: list = [np.ones(2, np.float16)]
    for _ in range(64):
        shared = [shared, shared]
    loop: list = []
    loop.append(loop)
    odd = GEOMETRIES["stride 0"][0]
    path = write_torch_zip(tmp_path / "deep.pth", {"shared": shared, "loop": loop, "weight": {"w": odd}})
    assert path.stat().st_size < 4096
    assert "tensor weight['w'] refused: stride 0" in _error(read_torch_checkpoint, path)


def _zip_bomb(path: Path) -> Path:
    """64 MiB of zeros deflated to a few kB, as one bfloat16 storage (torch.save never compresses)."""
    zeros = RawTensor(bytes(64 << 20), "BFloat16Storage", 32 << 20, (32 << 20,), (1,))
    return write_torch_zip(path, {"weight": {"w": zeros}}, storage_compression=zipfile.ZIP_DEFLATED)


def test_compressed_storage_is_refused_without_inflating_it(tmp_path):
    path = _zip_bomb(tmp_path / "bomb.pth")
    assert path.stat().st_size < 1 << 20
    message = _error(read_torch_checkpoint, path)
    assert "tensor weight['w'] refused" in message and "compressed" in message, message


# The peak resident memory of the child's own address space (VmHWM). Not `ru_maxrss`: a child inherits
# its parent's high-water mark across fork and exec, so under pytest (with MindSpore loaded) it would
# start at hundreds of MB and hide a growth below that.
_MEASURE = """
import json, sys
from GPT_SoVITS.weights import WeightLoadError, read_torch_checkpoint

def peak_kib():
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
    return int(status["VmHWM"].split()[0])

before = peak_kib()
try:
    read_torch_checkpoint(sys.argv[1])
    error = None
except WeightLoadError as exc:
    error = str(exc)
print(json.dumps({"error": error, "peak_growth_kib": peak_kib() - before}))
"""


@pytest.mark.parametrize("bomb", ["stride 0 bfloat16", "zip bomb"])
def test_bombs_are_refused_before_anything_is_allocated(tmp_path, bomb):
    """In a fresh process: the peak resident memory after the refusal against the peak after the imports."""
    need_path(Path("/proc/self/status"), "the peak resident memory in /proc", "run the tests on Linux")
    if bomb == "zip bomb":
        path = _zip_bomb(tmp_path / "bomb.pth")
    else:
        path = stride_zero_bomb(tmp_path / "bomb.pth", BOMB_ELEMENTS)
        assert path.stat().st_size < 1024
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["error"] and "tensor weight['w'] refused" in result["error"], result
    assert result["peak_growth_kib"] < PEAK_MIB * 1024, result
