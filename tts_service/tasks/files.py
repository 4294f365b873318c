"""Crash-safe file writes: a reader (or a restart) sees the old content or the new, never half of it.

Each write goes to a hidden temp file beside the target (same file system), is fsync'ed, then renamed
over the target; the folder is fsync'ed too so the rename itself survives a power cut. Temp files
left by a crash start with `.` and end with `.tmp`; `remove_temp_files` clears them at start-up.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import wave
from pathlib import Path

import numpy as np

TEMP_SUFFIX = ".tmp"


def fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_json(path: Path, data: dict) -> None:
    payload = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    _atomic_write(path, lambda handle: handle.write(payload))


def read_json(path: Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return data


def write_wav(path: Path, sample_rate: int, audio: np.ndarray) -> None:
    """16-bit mono PCM WAV."""
    samples = np.asarray(audio, dtype=np.int16).reshape(-1)

    def write(handle) -> None:
        with wave.open(handle, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(int(sample_rate))
            out.writeframes(samples.tobytes())

    _atomic_write(path, write)


def move(source: Path, target: Path) -> None:
    """Rename (atomic on one file system: the file is in exactly one folder at every instant)."""
    os.replace(source, target)
    fsync_dir(target.parent)
    fsync_dir(source.parent)


def unlink(path: Path) -> bool:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True


def remove_temp_files(folder: Path) -> int:
    count = 0
    for path in folder.glob(f".*{TEMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            count += 1
    return count
