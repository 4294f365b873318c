"""Waiting out an outage of the task store (Redis down, restarting or paused): bounded exponential back-off.

The worker never dies of one: a failed fetch or claim is tried again after RETRY_FIRST seconds, then
twice as long each time up to RETRY_MAX, for as long as it takes; a task's own writes (`finish`,
`requeue`) are retried the same way, so a finished synthesis keeps its result. Only a shutdown ends the
waiting (`GaveUp`).
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, TypeVar

log = logging.getLogger("tts_service.tasks")

RETRY_FIRST = 0.5  # seconds before the first retry
RETRY_MAX = 10.0  # the longest wait between two tries, however long the outage lasts

T = TypeVar("T")


class GaveUp(Exception):
    """A shutdown came while a step was waiting for the store to come back."""


class Backoff:
    """first, 2*first, 4*first, ... capped at `longest`; `reset` after a success."""

    def __init__(self, first: float | None = None, longest: float | None = None):
        self.first = RETRY_FIRST if first is None else first
        self.longest = RETRY_MAX if longest is None else longest
        self._next = self.first

    def next(self) -> float:
        delay, self._next = self._next, min(self.longest, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self.first


def until_done(step: Callable[[], T], transient: tuple[type[BaseException], ...], stopping: threading.Event,
               backoff: Backoff, what: str) -> T:
    """`step()`, tried again after each transient error until it succeeds; at least one try, and
    `GaveUp` once `stopping` is set (blocking: call from a worker thread)."""
    while True:
        try:
            return step()
        except transient as exc:
            if stopping.is_set():
                raise GaveUp(f"{what}: {exc}") from exc
            delay = backoff.next()
            log.warning("%s failed (%s: %s); retrying in %.1f s", what, type(exc).__name__, exc, delay)
            stopping.wait(delay)
