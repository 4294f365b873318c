"""The prepared folder: what dataset preparation writes and the trainers read.

    <out>/prepared/index.json        {"version": "v2", "clips": [{"name", "speaker", "language", "text",
                                      "norm_text", "seconds", "source"}, ...]}
    <out>/prepared/clips/<name>.npz  one per clip (`ARRAYS`)

Each array is what the reference's preparation writes for the clip, in numpy: `phones` (2-name2text),
`word2ph`, `bert` (3-bert; zeros for non-Chinese text, as the reference's loaders make them),
`audio32k` (5-wav32k's int16 / 32768, what the s2 loader reads), `ssl` (4-cnhubert), `codes`
(6-name2semantic) and, for the Pro versions, `sv` (7-sv_cn). Files are written to a temporary name and
renamed, so a folder interrupted mid-write holds only whole files.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# name -> (dtype, what it is)
ARRAYS = {
    "phones": (np.int64, "[N] phoneme ids of the version's symbol table"),
    "word2ph": (np.int64, "[characters] phonemes per normalised character (Chinese; empty otherwise)"),
    "bert": (np.float32, "[1024, N] BERT features per phoneme (zeros for non-Chinese text)"),
    "audio32k": (np.float32, "[samples] loudness-scaled 32 kHz audio, int16 values / 32768"),
    "ssl": (np.float32, "[768, T] HuBERT features of the scaled 16 kHz audio"),
    "codes": (np.int64, "[T'] semantic codes of the SoVITS quantizer"),
    "sv": (np.float32, "[20480] speaker-verification embedding (v2Pro / v2ProPlus only)"),
}
OPTIONAL = frozenset({"sv"})
INDEX = "index.json"
CLIPS = "clips"


@dataclass(frozen=True)
class ClipRecord:
    name: str  # the clip's file name, its key
    speaker: str
    language: str  # zh, ja or en
    text: str  # the transcript as the .list gives it
    norm_text: str  # as the text frontend normalised it
    seconds: float  # of the 32 kHz audio
    source: str = ""  # the audio file it was prepared from


class PreparedDataset:
    """A prepared folder, read: `version`, `clips` (records, in the .list's order) and `load(name)`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        index = json.loads((self.path / INDEX).read_text(encoding="utf-8"))
        self.version: str = index["version"]
        self.clips: list[ClipRecord] = [ClipRecord(**record) for record in index["clips"]]

    def __len__(self) -> int:
        return len(self.clips)

    def clip_path(self, name: str) -> Path:
        return clip_file(self.path, name)

    def load(self, name: str) -> dict[str, np.ndarray]:
        with np.load(self.clip_path(name)) as data:
            return {key: data[key] for key in data.files}


def clip_file(root: Path, name: str) -> Path:
    return root / CLIPS / f"{name}.npz"


def read_index(root: Path) -> tuple[str | None, dict[str, ClipRecord]]:
    """(version, records by name) of a folder's index; (None, {}) when there is none yet."""
    path = root / INDEX
    if not path.exists():
        return None, {}
    index = json.loads(path.read_text(encoding="utf-8"))
    return index["version"], {r["name"]: ClipRecord(**r) for r in index["clips"]}


def write_index(root: Path, version: str, records: list[ClipRecord]) -> None:
    body = json.dumps({"version": version, "clips": [asdict(r) for r in records]}, ensure_ascii=False, indent=1)
    _atomic_write(root / INDEX, (body + "\n").encode("utf-8"))


def write_clip(root: Path, name: str, arrays: dict[str, np.ndarray]) -> Path:
    """One clip's arrays (`ARRAYS`, each cast to its dtype), written whole or not at all."""
    unknown = set(arrays) - set(ARRAYS)
    missing = set(ARRAYS) - OPTIONAL - set(arrays)
    if unknown or missing:
        raise ValueError(f"clip arrays: unknown {sorted(unknown)}, missing {sorted(missing)}")
    typed = {key: np.ascontiguousarray(value, dtype=ARRAYS[key][0]) for key, value in arrays.items()}
    path = clip_file(root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **typed)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
