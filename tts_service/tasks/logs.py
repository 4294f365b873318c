"""Per-task log files: `Logs/tasks/<task_id>.log`, one line per event.

Each line opens, appends and closes the file: no handle stays open (the seed kept one per task for the
life of the process). The name is the task id, which the submit already checked against the id rule
(letters, digits, `_`, `-`), so it can never point outside the folder.
"""
from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

from ..storage.ids import is_valid_id

MAX_LINE_CHARS = 4000  # a traceback is cut here; the log stays readable and bounded


class TaskLogs:
    def __init__(self, logs_dir: Path):
        self.folder = Path(logs_dir) / "tasks"
        self._lock = threading.Lock()

    def path(self, task_id: str) -> Path:
        if not is_valid_id(task_id):
            raise ValueError(f"not a task id: {task_id!r}")
        return self.folder / f"{task_id}.log"

    def write(self, task_id: str, message: str, level: str = "INFO") -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        line = f"{stamp}\t{level}\t{message[:MAX_LINE_CHARS]}".replace("\n", "\n\t") + "\n"
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.path(task_id), "a", encoding="utf-8") as handle:
                handle.write(line)

    def read(self, task_id: str) -> str:
        try:
            return self.path(task_id).read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def remove(self, task_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(task_id).unlink()
