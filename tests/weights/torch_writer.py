"""Write files in `torch.save`'s zip layout without PyTorch, for tests and load measurements.

Arrays become `torch._utils._rebuild_tensor_v2` calls on typed storages (one storage per numpy base
buffer, so views of one array share a storage like tied weights do); `HParams` is written as the
reference's `utils.HParams`; `Global("os", "system")` writes any global and `RawTensor` any tensor
geometry over any storage bytes, to build hostile files.
"""
from __future__ import annotations

import collections
import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from GPT_SoVITS.weights.hparams import HParams

_STORAGE_NAMES = {
    np.dtype(np.float16): "HalfStorage",
    np.dtype(np.float32): "FloatStorage",
    np.dtype(np.float64): "DoubleStorage",
    np.dtype(np.int64): "LongStorage",
    np.dtype(np.int32): "IntStorage",
    np.dtype(np.uint8): "ByteStorage",
    np.dtype(np.bool_): "BoolStorage",
}


class Global:
    """A global reference written as pickle's GLOBAL opcode (module, name), whatever it names."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> Any:  # pickle wants reduce functions callable; never called
        raise RuntimeError(f"{self.module}.{self.name} is only a name to pickle")


class _Call:
    """`func(*args)` in the pickle: REDUCE on a `Global`."""

    def __init__(self, func: Global, args: tuple) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@dataclass(eq=False)
class RawTensor:
    """A tensor written exactly as given: `size`, `stride` and `offset` over a storage entry of bytes
    `data`, whose pickled storage names `storage` (e.g. "BFloat16Storage") and declares `numel` elements."""

    data: bytes
    storage: str
    numel: int
    size: tuple
    stride: tuple
    offset: int = 0


class _StorageRef:
    def __init__(self, base: np.ndarray, key: str, name: str | None = None, numel: int | None = None) -> None:
        self.base, self.key = base, key
        self.name = name or _STORAGE_NAMES[base.dtype]
        self.numel = base.size if numel is None else numel


class _TorchPickler(pickle._Pickler):  # the Python pickler: its save_global can be redirected
    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, storages: dict[int, _StorageRef]) -> None:
        super().__init__(file, protocol=2)
        self.storages = storages

    def save_global(self, obj, name=None):
        if obj is HParams:
            obj = Global("utils", "HParams")
        if isinstance(obj, Global):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            self.memoize(obj)
        else:
            super().save_global(obj, name)

    dispatch[Global] = lambda self, obj: self.save_global(obj)
    # Classes go through `save_type`; named here because dill (imported by MindSpore) swaps its own
    # version into pickle's shared dispatch table, bypassing this class's `save_global`.
    dispatch[type] = pickle._Pickler.save_type

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            return ("storage", Global("torch", obj.name), obj.key, "cpu", obj.numel)
        return None

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            return self._tensor(obj)
        if isinstance(obj, RawTensor):
            return self._raw_tensor(obj)
        if isinstance(obj, HParams):  # NEWOBJ + BUILD with the attribute dict, like the reference's files
            return (_newobj, (HParams,), dict(obj.__dict__))
        return NotImplemented

    def _tensor(self, array: np.ndarray):
        root = array
        while isinstance(root.base, np.ndarray):
            root = root.base
        if not root.flags.c_contiguous or root.dtype != array.dtype:
            array = root = np.ascontiguousarray(array)  # not a plain view: give it a storage of its own
        if id(root) not in self.storages:  # the dict keeps `root` alive, so its id stays unique
            self.storages[id(root)] = _StorageRef(root.reshape(-1), str(len(self.storages)))
        ref = self.storages[id(root)]
        item = array.itemsize
        offset = (array.__array_interface__["data"][0] - ref.base.__array_interface__["data"][0]) // item
        stride = tuple(s // item for s in array.strides)
        rebuild = Global("torch._utils", "_rebuild_tensor_v2")
        return rebuild, (ref, offset, tuple(array.shape), stride, False, collections.OrderedDict())

    def _raw_tensor(self, raw: RawTensor):
        if id(raw) not in self.storages:
            base = np.frombuffer(raw.data, np.uint8)
            self.storages[id(raw)] = _StorageRef(base, str(len(self.storages)), raw.storage, raw.numel)
        rebuild = Global("torch._utils", "_rebuild_tensor_v2")
        args = (self.storages[id(raw)], raw.offset, raw.size, raw.stride, False, collections.OrderedDict())
        return rebuild, args


def _newobj(cls, *args):  # named like copyreg's, so pickle writes NEWOBJ
    return cls.__new__(cls, *args)


_newobj.__name__ = "__newobj__"


def pickle_bytes(obj: Any) -> tuple[bytes, dict[int, _StorageRef]]:
    buffer, storages = io.BytesIO(), {}
    _TorchPickler(buffer, storages).dump(obj)
    return buffer.getvalue(), storages


def write_torch_zip(path: str | Path, obj: Any, *, root: str = "archive", head: bytes = b"PK",
                    storage_compression: int = zipfile.ZIP_STORED) -> Path:
    """Save `obj` like `torch.save` would; `head` replaces the leading `PK` (GPT-SoVITS' version tag).
    `storage_compression` other than ZIP_STORED (which torch.save always uses) deflates the storages."""
    data, storages = pickle_bytes(obj)
    path = Path(path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{root}/data.pkl", data)
        archive.writestr(f"{root}/byteorder", "little")
        for ref in storages.values():
            info = zipfile.ZipInfo(f"{root}/data/{ref.key}")
            info.compress_type = storage_compression
            with archive.open(info, "w") as entry:
                entry.write(memoryview(ref.base).cast("B"))
        archive.writestr(f"{root}/version", "3\n")
    if head != b"PK":
        with open(path, "r+b") as handle:
            handle.write(head)
    return path


def call(module: str, name: str, *args: Any) -> _Call:
    """An object that unpickles as `module.name(*args)`: for hostile-file tests."""
    return _Call(Global(module, name), args)


def stride_zero_bomb(path: str | Path, elements: int, key: str = "w") -> Path:
    """A file of a few hundred bytes: one bfloat16 element (2 bytes) seen `elements` times through stride
    0, under `weight[key]`; widened to float32 before any check, it would take 4 * `elements` bytes."""
    bomb = RawTensor(b"\x80\x3f", "BFloat16Storage", 1, (elements,), (0,))
    return write_torch_zip(path, {"weight": {key: bomb}, "config": HParams(model={}, data={})})
