"""The torch-zip writer: what it writes reads back unchanged with the project's reader, in torch's layout
(stored entries, storages aligned to 64 bytes, the version tag in place of `PK` when asked).
`tools/training_golden/check_torch_zip_writer.py` checks the same files with torch.load itself."""
from __future__ import annotations

import collections
import zipfile

import numpy as np
import pytest

from GPT_SoVITS.weights.hparams import HParams
from GPT_SoVITS.weights.torch_zip import read_torch_checkpoint, version_tag
from GPT_SoVITS.weights.torch_zip_writer import STORAGE_ALIGNMENT, write_torch_checkpoint


def _content() -> collections.OrderedDict:
    rng = np.random.default_rng(0)
    weight = collections.OrderedDict()
    weight["model.w"] = rng.standard_normal((3, 5)).astype(np.float16)
    weight["model.t"] = rng.standard_normal((4, 6)).astype(np.float32).T  # not contiguous
    weight["model.i"] = np.arange(7, dtype=np.int64)
    weight["model.s"] = np.array(1.5, dtype=np.float64)
    weight["model.e"] = np.zeros((0, 2), dtype=np.float32)
    weight["model.b"] = np.array([True, False])
    config = {"model": {"n": 2, "big": 2**40, "neg": -70000, "lr": 1e-5, "l": [1, (2, 3, 4, 5)], "none": None}}
    return collections.OrderedDict(weight=weight, config=config, info="GPT-e3")


def test_round_trip_through_the_reader(tmp_path):
    content = _content()
    path = write_torch_checkpoint(content, tmp_path / "x.ckpt")
    back = read_torch_checkpoint(path)
    assert list(back) == ["weight", "config", "info"]
    assert isinstance(back["weight"], collections.OrderedDict)
    for name, array in content["weight"].items():
        assert back["weight"][name].dtype == array.dtype and back["weight"][name].shape == array.shape, name
        np.testing.assert_array_equal(back["weight"][name], array)
    assert back["config"] == content["config"] and back["info"] == "GPT-e3"
    assert [p.name for p in tmp_path.iterdir()] == ["x.ckpt"]  # no temporary left behind


def test_torch_layout_stored_and_aligned(tmp_path):
    path = write_torch_checkpoint(_content(), tmp_path / "x.ckpt")
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert names[0] == "archive/data.pkl" and names[-1] == "archive/version"
        assert archive.read("archive/version") == b"3\n" and archive.read("archive/byteorder") == b"little"
        for info in archive.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            name_len, extra_len = np.frombuffer(raw[info.header_offset + 26: info.header_offset + 30], "<u2")
            start = info.header_offset + 30 + int(name_len) + int(extra_len)
            assert start % STORAGE_ALIGNMENT == 0, info.filename
            assert raw[start: start + info.file_size] == archive.read(info.filename)


def test_hparams_and_version_tag(tmp_path):
    hps = HParams(model={"version": "v2Pro", "gin_channels": 4}, data={"sampling_rate": 32000})
    path = write_torch_checkpoint({"weight": {"a": np.ones(3, np.float16)}, "config": hps}, tmp_path / "x.pth",
                                  header=b"05")
    assert version_tag(path) == b"05"
    back = read_torch_checkpoint(path)
    assert isinstance(back["config"], HParams) and back["config"] == hps


def test_refuses_what_a_checkpoint_cannot_hold(tmp_path):
    with pytest.raises(TypeError, match="complex"):
        write_torch_checkpoint({"w": np.ones(2, np.complex64)}, tmp_path / "x.ckpt")
    with pytest.raises(TypeError, match="object"):
        write_torch_checkpoint({"w": object()}, tmp_path / "y.ckpt")
    with pytest.raises(ValueError):
        write_torch_checkpoint({}, tmp_path / "z.ckpt", header=b"5")
    assert list(tmp_path.iterdir()) == []
