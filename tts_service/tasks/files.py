"""Task files: JSON records and result WAVs written crash-safely (`storage.atomic`), moved between
folders by rename, and the temp files a crash leaves behind cleared at start-up."""
from __future__ import annotations

import contextlib
import json
import os
import wave
from pathlib import Path

import numpy as np

from ..storage.atomic import TEMP_SUFFIX, atomic_write, fsync_dir


def write_json(path: Path, data: dict) -> None:
    payload = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    atomic_write(path, lambda handle: handle.write(payload))


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

    atomic_write(path, write)


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
