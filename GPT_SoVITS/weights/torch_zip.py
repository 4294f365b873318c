"""Read `torch.save` zip checkpoints without PyTorch, safely and lazily.

A `torch.save` file is a zip archive (entries stored uncompressed) holding `<root>/data.pkl`, the pickled
object tree, and `<root>/data/<key>`, one raw storage per key. Tensors appear in the pickle as calls to
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` whose storage is a persistent id
`("storage", <dtype class>, key, location, numel)`.

Safety: the unpickler resolves only the globals on `_ALLOWED` (tensor rebuild helpers, storage and dtype
names, `OrderedDict`, the reference's `HParams` config class mapped to ours); anything else raises a
`WeightLoadError` before anything could be called. Nothing from the file is imported or executed.

Checked before anything is allocated: every storage against its zip entry (stored raw, as long as it
claims; a compressed entry is never inflated, so a zip bomb costs nothing) and every tensor's offset,
size and stride against its storage (`tensor_checks`), before a numpy view is made or a bfloat16 tensor
widened. A refused tensor is reported by its key path, e.g. `weight['enc_p.proj.weight']`.

Speed and memory: the file is memory-mapped and each tensor is a read-only numpy view of its storage, so
opening is fast and pages are read only when touched. Tensors sharing one storage (tied weights) are views
of the same buffer. float16 stays float16; the model's loader upcasts.
"""
from __future__ import annotations

import collections
import mmap
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import WeightLoadError
from .hparams import HParams
from .tensor_checks import Refused, find_refused, geometry_problem

# GPT-SoVITS' `process_ckpt.my_save2` overwrites the leading `PK` with a 2-byte version tag (b"03".."06").
ZIP_MAGIC = b"PK"
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., file name length, extra field length

# Storage class names (legacy typed storages) -> numpy dtype of their elements.
_STORAGE_DTYPES = {
    "HalfStorage": np.float16,
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "BFloat16Storage": "bfloat16",  # no numpy dtype: widened to float32 when the tensor is built
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
    "UntypedStorage": np.uint8,  # newer files: raw bytes, the dtype is given with the tensor
}
_TORCH_DTYPES = {
    "float16": np.float16, "half": np.float16, "float32": np.float32, "float": np.float32,
    "float64": np.float64, "double": np.float64, "bfloat16": "bfloat16", "int64": np.int64,
    "long": np.int64, "int32": np.int32, "int": np.int32, "int16": np.int16, "int8": np.int8,
    "uint8": np.uint8, "bool": np.bool_,
}


class _StorageType:
    """What a storage class or dtype global unpickles to: just the element dtype it names."""

    def __init__(self, name: str, dtype: Any) -> None:
        self.name, self.dtype = name, dtype

    def __repr__(self) -> str:
        return f"torch.{self.name}"


def _as_numpy_dtype(dtype: Any) -> np.dtype:
    return np.dtype(np.uint16 if dtype == "bfloat16" else dtype)


def _bfloat16_to_float32(raw: np.ndarray) -> np.ndarray:
    """Only ever called on a checked view: it copies exactly the view's own elements, once."""
    wide = raw.astype(np.uint32)
    wide <<= 16  # in place: no second temporary of the widened size
    return wide.view(np.float32)


class _Storage:
    """One `data/<key>` entry: a flat read-only numpy view into the memory-mapped file."""

    def __init__(self, data: np.ndarray, dtype: Any) -> None:
        self.data, self.dtype = data, dtype


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> np.ndarray | Refused:
    """numpy counterpart of `torch._utils._rebuild_tensor(_v2)`: a strided view, made only once the
    geometry is checked; otherwise a `Refused` in the tensor's place (named after unpickling)."""
    if isinstance(storage, Refused):
        return storage
    if not isinstance(storage, _Storage):
        return Refused(f"its storage is a {type(storage).__name__}, not a storage")
    flat = storage.data
    problem = geometry_problem(offset, size, stride, flat.size)
    if problem:
        return Refused(problem)
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[offset:], shape=size, strides=tuple(s * item for s in stride), writeable=False
    )
    return _bfloat16_to_float32(view) if storage.dtype == "bfloat16" else view


def _rebuild_parameter(data: np.ndarray, *_: Any) -> np.ndarray:
    return data  # a Parameter is its tensor plus requires_grad/hooks, which inference ignores


def _allowed_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch", "Size"): tuple,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        # The reference pickles its config class as `utils.HParams` (scripts run from GPT_SoVITS/).
        ("utils", "HParams"): HParams,
        ("GPT_SoVITS.utils", "HParams"): HParams,
    }
    for name, dtype in _STORAGE_DTYPES.items():
        allowed[("torch", name)] = _StorageType(name, dtype)
    allowed[("torch.storage", "UntypedStorage")] = _StorageType("UntypedStorage", np.uint8)
    allowed[("torch.storage", "TypedStorage")] = _StorageType("TypedStorage", np.uint8)
    for name, dtype in _TORCH_DTYPES.items():
        allowed[("torch", name)] = _StorageType(name, dtype)
    return allowed


_ALLOWED = _allowed_globals()


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, source: str, load_storage: Callable[[str, Any, int], _Storage]):
        import io

        super().__init__(io.BytesIO(data))
        self._source, self._load_storage = source, load_storage

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise WeightLoadError(
                f"{self._source}: refusing to unpickle the global '{module}.{name}'; a weight file may only "
                "reference tensors, storages, OrderedDict and HParams (nothing from the file is executed)"
            ) from None

    def persistent_load(self, pid: Any) -> _Storage | Refused:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise WeightLoadError(f"{self._source}: unexpected persistent id {pid!r} in the pickle")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise WeightLoadError(f"{self._source}: storage {key!r} has no known storage type")
        return self._load_storage(str(key), storage_type.dtype, numel)


class _EntryError(Exception):
    """A zip entry that cannot be used as stored bytes; the message says why, without the file name."""


class _Archive:
    """The zip's entries as slices of one memory map (torch stores entries uncompressed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "rb") as handle:
            head = handle.read(4)
            if len(head) < 4:
                raise WeightLoadError(f"{path}: the file is empty or truncated ({len(head)} bytes)")
            if head[:2] != ZIP_MAGIC and not head[:2].isdigit():
                raise WeightLoadError(f"{path}: not a PyTorch zip checkpoint (starts with {head[:4]!r})")
            # zipfile finds entries from the central directory at the end, so the 2-byte version tag
            # in place of the first `PK` does not disturb the listing; entry bytes are read below.
            try:
                with zipfile.ZipFile(handle) as archive:
                    self.entries = {info.filename: info for info in archive.infolist()}
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise WeightLoadError(f"{path}: not a readable zip checkpoint (truncated or corrupt: {exc})") from exc
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        self._buffer = np.frombuffer(self._map, dtype=np.uint8)
        self.root = self._find_root()

    def _find_root(self) -> str:
        # The root folder is a timestamp, `archive`, or the file stem: take it from data.pkl's entry.
        pickles = [name for name in self.entries if name.endswith("/data.pkl") and name.count("/") == 1]
        if len(pickles) != 1:
            raise WeightLoadError(f"{self.path}: a zip, but not a torch.save checkpoint (no <root>/data.pkl)")
        return pickles[0][: -len("data.pkl")]

    def raw(self, name: str) -> np.ndarray:
        try:
            return self.entry(name)
        except _EntryError as exc:
            raise WeightLoadError(f"{self.path}: {exc}") from None

    def entry(self, name: str) -> np.ndarray:
        """The entry's bytes, a view of the memory map: nothing is copied or inflated."""
        info = self.entries.get(name)
        if info is None:
            raise _EntryError(f"the checkpoint has no entry {name!r}")
        if info.compress_type != zipfile.ZIP_STORED:  # never inflated: a few bytes could claim gigabytes
            raise _EntryError(f"entry {name!r} is compressed (method {info.compress_type}); torch.save stores "
                              "entries raw, and a compressed one is not inflated")
        if info.compress_size != info.file_size:
            raise _EntryError(f"entry {name!r} is stored raw but claims {info.file_size} bytes in "
                              f"{info.compress_size} (corrupt zip directory)")
        start = info.header_offset + _LOCAL_HEADER.size
        if start > len(self._buffer):
            raise _EntryError(f"entry {name!r} lies past the end of the file (truncated)")
        signature, name_len, extra_len = _LOCAL_HEADER.unpack_from(self._map, info.header_offset)
        # The first local header may carry the version tag instead of `PK`; the rest must be intact.
        if signature[2:] != b"\x03\x04" or (info.header_offset and signature[:2] != ZIP_MAGIC):
            raise _EntryError(f"corrupt zip local header for {name!r}")
        begin = start + name_len + extra_len
        if begin + info.file_size > len(self._buffer):
            raise _EntryError(f"entry {name!r} is cut off (truncated file)")
        return self._buffer[begin : begin + info.file_size]

    def text(self, name: str, default: str) -> str:
        full = self.root + name
        return bytes(self.raw(full)).decode("ascii").strip() if full in self.entries else default


def version_tag(path: str | Path) -> bytes:
    """The first two bytes: `PK` for a plain zip, or GPT-SoVITS' version tag (b"05" = v2Pro, ...)."""
    with open(path, "rb") as handle:
        return handle.read(2)


def is_torch_zip(path: str | Path) -> bool:
    head = version_tag(path)
    return head == ZIP_MAGIC or (len(head) == 2 and head.isdigit())


def read_torch_checkpoint(path: str | Path) -> Any:
    """Unpickle a `torch.save` zip file into plain Python objects with numpy arrays for tensors.

    Raises `WeightLoadError` (naming the file) for empty, truncated, non-zip or hostile files.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightLoadError(f"{path}: no such weight file")
    archive = _Archive(path)
    big_endian = archive.text("byteorder", "little") == "big"
    storages: dict[str, _Storage | Refused] = {}

    def load_storage(key: str, dtype: Any, numel: Any) -> _Storage | Refused:
        if key not in storages:  # one view per key: tensors sharing a storage stay tied
            storages[key] = _storage(archive, key, dtype, numel, big_endian)
        return storages[key]

    unpickler = _RestrictedUnpickler(bytes(archive.raw(archive.root + "data.pkl")), str(path), load_storage)
    try:
        content = unpickler.load()
    except WeightLoadError:
        raise
    except Exception as exc:  # malformed pickle: EOF, bad opcode, wrong argument types...
        raise WeightLoadError(f"{path}: the checkpoint's pickle is malformed ({type(exc).__name__}: {exc})") from exc
    refused = find_refused(content)
    if refused:
        where, what = refused
        raise WeightLoadError(f"{path}: tensor {where} refused: {what.reason}")
    return content


def _storage(archive: _Archive, key: str, dtype: Any, numel: Any, big_endian: bool) -> _Storage | Refused:
    """The `data/<key>` entry as `numel` elements of `dtype`, or why not (the file claims more than it has)."""
    if not isinstance(numel, int) or isinstance(numel, bool) or numel < 0:
        return Refused(f"storage {key!r} declares {numel!r} elements")
    try:
        raw = archive.entry(f"{archive.root}data/{key}")
    except _EntryError as exc:
        return Refused(f"storage {key!r}: {exc}")
    element = _as_numpy_dtype(dtype)
    if big_endian:
        element = element.newbyteorder(">")
    if numel * element.itemsize > len(raw):
        return Refused(f"storage {key!r} declares {numel} elements of {element.itemsize} bytes, but its entry "
                       f"holds {len(raw)} bytes (truncated or forged)")
    return _Storage(raw[: numel * element.itemsize].view(element), dtype)
