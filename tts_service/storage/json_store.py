"""A JSON array on disk, safe under concurrent requests and processes.

Every change is a read-modify-write under one lock: a thread lock (requests of this process) plus an
`flock` on a sibling `.lock` file (other processes, e.g. a second worker). The new content goes to a
temp file that is fsync'ed and renamed over the store, so a crash leaves either the old or the new
array, never half of one.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import threading
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from .atomic import atomic_write

T = TypeVar("T")


class JsonStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store exclusively (re-entrant in a thread); nest stores in one fixed order."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self._lock_path, "a+") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def read(self) -> list[dict]:
        """The current array (a fresh copy: changing it changes nothing on disk)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        data = json.loads(text) if text.strip() else []
        if not isinstance(data, list):
            raise ValueError(f"{self.path.name} is not a JSON array")
        return data

    def write(self, items: list[dict]) -> None:
        """Replace the array atomically; call inside `locked()`."""
        payload = json.dumps(items, ensure_ascii=False, indent=2).encode("utf-8")
        atomic_write(self.path, lambda handle: handle.write(payload))

    def update(self, change: Callable[[list[dict]], T]) -> T:
        """Run `change` on the array under the lock; write it back unless `change` raised."""
        with self.locked():
            items = self.read()
            result = change(items)
            self.write(items)
            return result

