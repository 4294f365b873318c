"""`ModelsLock`: the one lock every model call takes, first come first served, and the way background
work yields to requests.

MindSpore cells are not safe to run from several threads at once, so model calls take turns. The
turns are in arrival order: the batching scheduler takes the lock for every decoding step and would
otherwise win it back at once (a plain lock favours the thread that just released it), leaving a
request that waits to voice its finished segment, or to compute a segment's text features, behind
every step of the batch. Background work (the warm-up that runs after the service is ready: seconds
of compilation per stage) would otherwise make the first requests wait for all of it; it takes the
lock only once no request has waited for or held it for `QUIET_SECONDS`, one stage at a time.
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
        self._turns = threading.Condition()  # guards everything below
        self._next_ticket = 0  # handed to the next thread that asks
        self._serving = 0  # the ticket whose turn it is (its holder may still be on the way)
        self._waiting = 0  # requests waiting for or holding the lock
        self._last_release = float("-inf")
        self.quiet_seconds = quiet_seconds

    @contextmanager
    def request(self) -> Iterator[None]:
        """Hold the lock for a request's model calls (or one step of the shared batch)."""
        with self._turns:
            self._waiting += 1
        try:
            with self._turn():
                yield
        finally:
            with self._turns:
                self._waiting -= 1
                self._last_release = time.monotonic()

    @contextmanager
    def background(self) -> Iterator[None]:
        """Hold the lock once requests have left it alone for `quiet_seconds` (a request that comes in
        after that waits for this holder, so keep each use short: one warm-up stage)."""
        while not self._quiet():
            time.sleep(_POLL_SECONDS)
        with self._turn():
            yield

    @contextmanager
    def _turn(self) -> Iterator[None]:
        with self._turns:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._turns.wait()
        try:
            yield
        finally:
            with self._turns:
                self._serving += 1
                self._turns.notify_all()

    def _quiet(self) -> bool:
        with self._turns:
            return self._waiting == 0 and time.monotonic() - self._last_release >= self.quiet_seconds
