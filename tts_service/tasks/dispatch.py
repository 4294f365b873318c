"""The in-process dispatch queue of a backend that serves one process (the file store): the ids of
waiting tasks, first in first out, handed to idle workers. It holds only ids the store put there (one per
task entering `wait`), so it never outgrows the waiting tasks themselves."""
from __future__ import annotations

import threading
from collections import deque

WAIT_SLICE = 1.0  # seconds one `take` blocks at most; the caller asks again unless it is stopping


class LocalDispatch:
    def __init__(self) -> None:
        self._ids: deque[str] = deque()
        self._ready = threading.Condition()
        self._closed = False

    def reset(self, task_ids: list[str]) -> None:
        """Start over with these ids (at start-up, after recovery) and take requests again."""
        with self._ready:
            self._ids = deque(task_ids)
            self._closed = False
            self._ready.notify_all()

    def put(self, task_id: str) -> None:
        with self._ready:
            self._ids.append(task_id)
            self._ready.notify()

    def take(self, timeout: float = WAIT_SLICE) -> str | None:
        """The oldest id, waiting up to `timeout` s for one; None on timeout or once closed."""
        with self._ready:
            self._ready.wait_for(lambda: self._ids or self._closed, timeout)
            return None if self._closed or not self._ids else self._ids.popleft()

    def close(self) -> None:
        """Every `take`, now and later, returns None (shutdown) until the next `reset`."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def __len__(self) -> int:
        with self._ready:
            return len(self._ids)
