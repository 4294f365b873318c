"""What one process knows of the Redis task queue, to put back if Redis loses it.

With `--redis-url` the task records live only in Redis (no task files). A Redis without persistence that
restarts comes back empty: every waiting and running task would vanish, and a finished result would lose
its record. So each process keeps a copy of
- every live (waiting or running) task: its own writes at once, everyone's on each reconcile
  (`refresh`, every few seconds while Redis is up);
- the tasks it finished itself lately (the last FINISHED_KEPT), so a result just written keeps its record.
When the backend notices the reset (its epoch key is gone), it writes these back (`RedisTaskBackend`
restores only ids Redis does not have, so several processes restoring at once agree).

Limits: a change another process made less than one reconcile before the reset may be missed (a task
deleted then may come back, one finished then may run again), and tasks no live process knows are lost;
run Redis with persistence (appendonly) where that matters.
"""
from __future__ import annotations

import copy
import threading
from collections import OrderedDict

from .record import LIVE

FINISHED_KEPT = 1000  # finished tasks (this process's own, newest) kept to restore after a reset


class Journal:
    def __init__(self, finished_kept: int = FINISHED_KEPT):
        self.finished_kept = finished_kept
        self._lock = threading.Lock()
        self._live: dict[str, dict] = {}
        self._finished: OrderedDict[str, dict] = OrderedDict()  # oldest first
        self._version = 0  # counts notes: a refresh never undoes a note newer than its snapshot
        self._noted_at: dict[str, int] = {}

    def note(self, entry: dict) -> None:
        """The entry as this process just wrote it (or read it from Redis)."""
        task_id = entry["task_id"]
        with self._lock:
            self._version += 1
            self._noted_at[task_id] = self._version
            if entry["status"] in LIVE:
                self._finished.pop(task_id, None)
                self._live[task_id] = copy.deepcopy(entry)
                return
            self._live.pop(task_id, None)
            self._finished.pop(task_id, None)
            self._finished[task_id] = copy.deepcopy(entry)
            while len(self._finished) > self.finished_kept:
                old, _ = self._finished.popitem(last=False)
                self._noted_at.pop(old, None)

    def drop(self, task_id: str) -> None:
        with self._lock:
            self._live.pop(task_id, None)
            self._finished.pop(task_id, None)
            self._noted_at.pop(task_id, None)

    def mark(self) -> int:
        """Take before reading a snapshot from Redis; pass to `refresh`."""
        with self._lock:
            return self._version

    def refresh(self, live: list[dict], mark: int) -> None:
        """Redis's live tasks, read after `mark`: copy them; forget live copies Redis no longer lists
        (finished or deleted elsewhere), unless this process noted them after the snapshot began."""
        current = {e["task_id"]: e for e in live}
        with self._lock:
            for task_id in [t for t in self._live if t not in current and self._noted_at.get(t, 0) <= mark]:
                del self._live[task_id]
                self._noted_at.pop(task_id, None)
            for task_id, entry in current.items():
                if self._noted_at.get(task_id, 0) <= mark and task_id not in self._finished:
                    self._live[task_id] = copy.deepcopy(entry)

    def entries(self) -> list[dict]:
        """Every copy, oldest submission first (the order they are restored in)."""
        with self._lock:
            known = [copy.deepcopy(e) for e in (*self._live.values(), *self._finished.values())]
        return sorted(known, key=lambda e: (e.get("created_at", 0), e["task_id"]))
