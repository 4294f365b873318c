"""`ModelsLock`: the one lock every model call takes, and the way background work yields to requests.

MindSpore cells are not safe to run from several threads at once, so requests take turns (segment by
segment). Background work (the warm-up that runs after the service is ready: seconds of compilation
per stage) would otherwise make the first requests wait for all of it; it takes the lock only once no
request has waited for or held it for `QUIET_SECONDS`, one stage at a time.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

QUIET_SECONDS = 1.0  # longer than the gap between two segments of one request
_POLL_SECONDS = 0.1


class ModelsLock:
    def __init__(self, quiet_seconds: float = QUIET_SECONDS):
        self._lock = threading.Lock()
        self._books = threading.Lock()  # guards the two counters below
        self._waiting = 0  # requests waiting for or holding the lock
        self._last_release = float("-inf")
        self.quiet_seconds = quiet_seconds

    @contextmanager
    def request(self) -> Iterator[None]:
        """Hold the lock for a request's model calls."""
        with self._books:
            self._waiting += 1
        try:
            with self._lock:
                yield
        finally:
            with self._books:
                self._waiting -= 1
                self._last_release = time.monotonic()

    @contextmanager
    def background(self) -> Iterator[None]:
        """Hold the lock once requests have left it alone for `quiet_seconds` (a request that comes in
        after that waits for this holder, so keep each use short: one warm-up stage)."""
        while not self._quiet():
            time.sleep(_POLL_SECONDS)
        with self._lock:
            yield

    def _quiet(self) -> bool:
        with self._books:
            return self._waiting == 0 and time.monotonic() - self._last_release >= self.quiet_seconds
