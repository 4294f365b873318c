"""Write `torch.save` zip checkpoints without PyTorch: the files the reference's web UI writes.

The counterpart of `torch_zip.read_torch_checkpoint`. A trained GPT is exported as the reference's
`s1_train.py` does (`{"weight": half-precision state dict, "config": ..., "info": "GPT-e<epoch>"}`), a
SoVITS as `process_ckpt.savee` does (its `HParams` config pickled as the reference's `utils.HParams`, and
for v2Pro / v2ProPlus the 2-byte version tag of `my_save2` in place of the leading `PK`).

The pickle is written opcode by opcode (protocol 2, as `torch.save`), so only the object kinds a
checkpoint holds can be written: None, bool, int, float, str, list, tuple, dict, OrderedDict, `HParams`
and numpy arrays (tensors, of the dtypes in `_STORAGE_NAMES`); anything else is a `TypeError` before the
file is touched. No global is ever looked up, so nothing of torch is needed.

Zip layout as torch 2.x: `<root>/data.pkl`, `.format_version`, `.storage_alignment`, `byteorder`,
`data/<key>` (one raw storage per array, its bytes aligned to 64 as torch's memory-mapped loading
expects) and `version`; every entry stored, never compressed. The file is written beside the target and
renamed into place, so a reader never sees half a checkpoint.
"""
from __future__ import annotations

import collections
import os
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .hparams import HParams
from .torch_zip import ZIP_MAGIC

STORAGE_ALIGNMENT = 64  # torch.save's `.storage_alignment`
_STORAGE_NAMES = {
    np.dtype(np.float16): "HalfStorage",
    np.dtype(np.float32): "FloatStorage",
    np.dtype(np.float64): "DoubleStorage",
    np.dtype(np.int64): "LongStorage",
    np.dtype(np.int32): "IntStorage",
    np.dtype(np.int16): "ShortStorage",
    np.dtype(np.int8): "CharStorage",
    np.dtype(np.uint8): "ByteStorage",
    np.dtype(np.bool_): "BoolStorage",
}
# The reference's config class, as its scripts (run from GPT_SoVITS/) pickle it.
HPARAMS_GLOBAL = ("utils", "HParams")

# Protocol-2 opcodes (pickle's names).
_PROTO, _STOP, _MARK = b"\x80\x02", b".", b"("
_NONE, _TRUE, _FALSE = b"N", b"\x88", b"\x89"
_BININT1, _BININT2, _BININT, _LONG1, _BINFLOAT = b"K", b"M", b"J", b"\x8a", b"G"
_BINUNICODE, _GLOBAL, _REDUCE, _BUILD, _BINPERSID = b"X", b"c", b"R", b"b", b"Q"
_EMPTY_TUPLE, _TUPLES, _TUPLE = b")", {1: b"\x85", 2: b"\x86", 3: b"\x87"}, b"t"
_EMPTY_LIST, _APPENDS, _EMPTY_DICT, _SETITEMS = b"]", b"e", b"}", b"u"


class _Pickle:
    """Emits the opcodes of one object tree; arrays become storages collected in `self.storages`."""

    def __init__(self) -> None:
        self.out = bytearray(_PROTO)
        self.storages: list[np.ndarray] = []  # flat, C-contiguous; the key is the index
        self._keys: dict[int, int] = {}  # id(array) -> storage key: one array written twice shares it
        self._alive: list[np.ndarray] = []  # keeps ids unique while pickling

    def dump(self, obj: Any) -> bytes:
        self.save(obj)
        self.out += _STOP
        return bytes(self.out)

    def save(self, obj: Any) -> None:
        if obj is None:
            self.out += _NONE
        elif isinstance(obj, bool):
            self.out += _TRUE if obj else _FALSE
        elif isinstance(obj, int):
            self._int(obj)
        elif isinstance(obj, float):
            self.out += _BINFLOAT + struct.pack(">d", obj)
        elif isinstance(obj, str):
            data = obj.encode("utf-8", "surrogatepass")
            self.out += _BINUNICODE + struct.pack("<I", len(data)) + data
        elif isinstance(obj, np.ndarray):
            self._tensor(obj)
        elif isinstance(obj, tuple):
            self._tuple(obj)
        elif isinstance(obj, list):
            self.out += _EMPTY_LIST + _MARK
            for item in obj:
                self.save(item)
            self.out += _APPENDS
        elif isinstance(obj, HParams):  # GLOBAL utils.HParams, () REDUCE, then BUILD with its attributes
            self._call(HPARAMS_GLOBAL, ())
            self._dict_items(_EMPTY_DICT, obj.items())
            self.out += _BUILD
        elif isinstance(obj, collections.OrderedDict):
            self._call(("collections", "OrderedDict"), ())
            self._items(obj.items())
        elif isinstance(obj, dict):
            self._dict_items(_EMPTY_DICT, obj.items())
        elif isinstance(obj, np.generic):
            self.save(obj.item())  # a numpy scalar in a config: its Python value
        else:
            raise TypeError(f"cannot write a {type(obj).__name__} into a torch checkpoint")

    def _int(self, value: int) -> None:
        if 0 <= value < 0x100:
            self.out += _BININT1 + bytes([value])
        elif 0 <= value < 0x10000:
            self.out += _BININT2 + struct.pack("<H", value)
        elif -0x80000000 <= value < 0x80000000:
            self.out += _BININT + struct.pack("<i", value)
        else:
            data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
            self.out += _LONG1 + bytes([len(data)]) + data

    def _tuple(self, items: tuple) -> None:
        if not items:
            self.out += _EMPTY_TUPLE
            return
        if len(items) not in _TUPLES:
            self.out += _MARK
        for item in items:
            self.save(item)
        self.out += _TUPLES.get(len(items), _TUPLE)

    def _global(self, module: str, name: str) -> None:
        self.out += _GLOBAL + f"{module}\n{name}\n".encode("ascii")

    def _call(self, func: tuple[str, str], args: tuple) -> None:
        self._global(*func)
        self._tuple(args)
        self.out += _REDUCE

    def _dict_items(self, opener: bytes, items) -> None:
        self.out += opener
        self._items(items)

    def _items(self, items) -> None:
        self.out += _MARK
        for key, value in items:
            self.save(key)
            self.save(value)
        self.out += _SETITEMS

    def _tensor(self, array: np.ndarray) -> None:
        if not array.dtype.isnative:  # torch files here are little-endian (`byteorder`)
            array = array.astype(array.dtype.newbyteorder("="))
        name = _STORAGE_NAMES.get(array.dtype)
        if name is None:
            raise TypeError(f"cannot write a {array.dtype} array into a torch checkpoint")
        key = self._keys.get(id(array))
        if key is None:
            key = self._keys[id(array)] = len(self.storages)
            self._alive.append(array)
            self.storages.append(np.ascontiguousarray(array).reshape(-1))
        shape = tuple(int(n) for n in array.shape)
        stride = tuple(int(np.prod(shape[i + 1:], dtype=np.int64)) for i in range(len(shape)))
        self._global("torch._utils", "_rebuild_tensor_v2")
        self.out += _MARK
        # storage: persistent id ("storage", torch.<Name>Storage, key, location, numel)
        self.out += _MARK
        self.save("storage")
        self._global("torch", name)
        self.save(str(key))
        self.save("cpu")
        self.save(int(array.size))
        self.out += _TUPLE + _BINPERSID
        self.save(0)  # storage offset
        self.save(shape)
        self.save(stride)
        self.save(False)  # requires_grad
        self._call(("collections", "OrderedDict"), ())  # backward hooks
        self.out += _TUPLE + _REDUCE


def torch_pickle(obj: Any) -> tuple[bytes, list[np.ndarray]]:
    """(data.pkl's bytes, the storages in key order) of `obj`; `TypeError` for what cannot be written."""
    pickler = _Pickle()
    return pickler.dump(obj), pickler.storages


def _aligned_entry(archive: zipfile.ZipFile, name: str, data: memoryview | bytes) -> None:
    """A stored entry whose bytes start on a multiple of STORAGE_ALIGNMENT, padded with an extra field
    as torch does (id `FB`), so torch can memory-map the storage in place."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    size = len(data)
    info.file_size = size
    zip64 = size * 1.05 > zipfile.ZIP64_LIMIT  # zipfile's own rule: it then appends a 20-byte extra
    start = archive.fp.tell() + zipfile.sizeFileHeader + len(name.encode("utf-8")) + 4 + (20 if zip64 else 0)
    padding = -start % STORAGE_ALIGNMENT
    info.extra = b"FB" + struct.pack("<H", padding) + b"Z" * padding
    with archive.open(info, "w", force_zip64=zip64) as entry:
        entry.write(data)


def _write_zip(handle: BinaryIO, pickled: bytes, storages: list[np.ndarray], root: str) -> None:
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        _aligned_entry(archive, f"{root}/data.pkl", pickled)
        _aligned_entry(archive, f"{root}/.format_version", b"1")
        _aligned_entry(archive, f"{root}/.storage_alignment", str(STORAGE_ALIGNMENT).encode())
        _aligned_entry(archive, f"{root}/byteorder", b"little")
        for key, storage in enumerate(storages):
            _aligned_entry(archive, f"{root}/data/{key}", memoryview(storage).cast("B"))
        _aligned_entry(archive, f"{root}/version", b"3\n")


def write_torch_checkpoint(obj: Any, path: str | Path, *, header: bytes = ZIP_MAGIC, root: str = "archive") -> Path:
    """Save `obj` as `torch.save(obj, path)` would, readable by `torch.load` and `read_torch_checkpoint`.

    Arrays keep their dtype (cast to float16 before, for the reference's half-precision exports).
    `header`: the file's first two bytes; b"05" / b"06" is `process_ckpt.my_save2`'s version tag for
    v2Pro / v2ProPlus SoVITS files (the reference's loader puts `PK` back before unzipping).
    """
    if len(header) != 2:
        raise ValueError(f"the header is 2 bytes (b'PK' or a version tag like b'05'), not {header!r}")
    path = Path(path)
    pickled, storages = torch_pickle(obj)  # fails on an unwritable object before any file exists
    handle = tempfile.NamedTemporaryFile("w+b", dir=path.parent, prefix=f".{path.name}.", delete=False)
    try:
        with handle:
            _write_zip(handle, pickled, storages, root)
            if header != ZIP_MAGIC:
                handle.seek(0)
                handle.write(header)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return path
