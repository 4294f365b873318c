"""The in-process dispatch queues of a backend that serves one process (the file store): the ids of
waiting tasks, one first-in-first-out queue per task kind, handed to idle workers that ask for that kind
(synthesis workers never see a fine-tune, nor the reverse). It holds only ids the store put there (one per
task entering `wait`), so it never outgrows the waiting tasks themselves."""
from __future__ import annotations

import threading
from collections import deque

WAIT_SLICE = 1.0  # seconds one `take` blocks at most; the caller asks again unless it is stopping


class LocalDispatch:
    def __init__(self) -> None:
        self._ids: dict[str, deque[str]] = {}  # kind -> waiting ids, oldest first
        self._ready = threading.Condition()
        self._closed = False

    def reset(self, tasks: list[tuple[str, str]]) -> None:
        """Start over with these (task id, kind) pairs, oldest first (at start-up, after recovery), and
        take requests again."""
        with self._ready:
            self._ids = {}
            for task_id, kind in tasks:
                self._ids.setdefault(kind, deque()).append(task_id)
            self._closed = False
            self._ready.notify_all()

    def put(self, task_id: str, kind: str) -> None:
        with self._ready:
            self._ids.setdefault(kind, deque()).append(task_id)
            self._ready.notify_all()  # waiters of every kind share the condition: wake them all

    def take(self, kind: str, timeout: float = WAIT_SLICE) -> str | None:
        """The oldest id of `kind`, waiting up to `timeout` s for one; None on timeout or once closed."""
        with self._ready:
            self._ready.wait_for(lambda: self._ids.get(kind) or self._closed, timeout)
            queue = self._ids.get(kind)
            return None if self._closed or not queue else queue.popleft()

    def close(self) -> None:
        """Every `take`, now and later, returns None (shutdown) until the next `reset`."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def __len__(self) -> int:
        with self._ready:
            return sum(len(ids) for ids in self._ids.values())
