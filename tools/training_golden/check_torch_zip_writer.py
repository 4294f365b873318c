"""torch.load reads what `GPT_SoVITS.weights.torch_zip_writer` writes (run with the PyTorch venv).

    /work/torch-venv/bin/python tools/training_golden/check_torch_zip_writer.py [file.ckpt ...]

Without arguments it writes a sample file (half, float, int64 tensors, a nested config, a v2Pro tag) and
checks torch.load (weights_only=True for the GPT layout, mmap=True, and the reference's PK-restoring
load for a tagged file) gives back the same values. With arguments it only loads the given files (an
exported GPT .ckpt, say) with torch.load and prints their keys, dtypes and config.
"""
from __future__ import annotations

import collections
import io
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from GPT_SoVITS.weights.torch_zip_writer import write_torch_checkpoint  # noqa: E402


def _sample() -> collections.OrderedDict:
    rng = np.random.default_rng(0)
    weight = collections.OrderedDict()
    weight["model.a"] = rng.standard_normal((3, 5)).astype(np.float16)
    weight["model.b"] = rng.standard_normal((4, 6)).astype(np.float32).T
    weight["model.c"] = np.arange(5, dtype=np.int64)
    return collections.OrderedDict(weight=weight, config={"model": {"n": 2, "lr": 0.01, "l": [1, 2]}}, info="GPT-e1")


def _check_sample(folder: Path) -> None:
    sample = _sample()
    path = write_torch_checkpoint(sample, folder / "sample.ckpt")
    for kwargs in ({"weights_only": True}, {"weights_only": True, "mmap": True}):
        loaded = torch.load(path, map_location="cpu", **kwargs)
        assert loaded["config"] == sample["config"] and loaded["info"] == sample["info"], kwargs
        for name, array in sample["weight"].items():
            np.testing.assert_array_equal(loaded["weight"][name].numpy(), array)
    tagged = write_torch_checkpoint({"w": sample["weight"]["model.a"]}, folder / "tagged.pth", header=b"05")
    data = tagged.read_bytes()
    assert data[:2] == b"05"
    np.testing.assert_array_equal(torch.load(io.BytesIO(b"PK" + data[2:]))["w"].numpy(), sample["weight"]["model.a"])
    print("torch.load reads the writer's files: OK")


def _show(path: Path) -> None:
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    weight = loaded["weight"]
    dtypes = sorted({str(t.dtype) for t in weight.values()})
    print(f"{path}: {len(weight)} tensors ({', '.join(dtypes)}), info={loaded.get('info')!r}, "
          f"config sections={list(loaded.get('config', {}))}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        for name in sys.argv[1:]:
            _show(Path(name))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            _check_sample(Path(tmp))
