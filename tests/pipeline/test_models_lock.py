"""The models' lock: requests take turns; background work waits for a quiet moment.

The lock's clock is a stand-in that moves only when the test moves it, and each poll of the waiting
background work is counted, so "not yet" and "now" are facts of the test, not of the machine's speed.
"""
from __future__ import annotations

import threading
import time

import pytest

from GPT_SoVITS.pipeline import models_lock
from GPT_SoVITS.pipeline.models_lock import ModelsLock

WAIT = 30.0  # seconds: only ever reached when something is broken


class ManualClock:
    """Stands in for the lock module's `time`: `monotonic` moves only by `advance`; `sleep` (the
    background side's poll) is counted and yields for a moment of real time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.polls = 0
        self._polled = threading.Condition()

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._polled:
            self.polls += 1
            self._polled.notify_all()
        time.sleep(0.001)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def wait_polls(self, count: int = 2) -> None:
        """Until the waiting side has polled `count` more times: it has looked at the lock (and the
        clock) again since this call, and is still waiting."""
        with self._polled:
            target = self.polls + count
            assert self._polled.wait_for(lambda: self.polls >= target, WAIT), "the background work stopped polling"


@pytest.fixture
def clock(monkeypatch) -> ManualClock:
    manual = ManualClock()
    monkeypatch.setattr(models_lock, "time", manual)
    return manual


def started(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def holding_request(lock: ModelsLock, order: list[str], name: str) -> tuple[threading.Thread, threading.Event]:
    """A request that holds the lock until the returned event is set (then notes `name`)."""
    holding, release = threading.Event(), threading.Event()

    def request() -> None:
        with lock.request():
            holding.set()
            release.wait(WAIT)
            order.append(name)

    thread = started(request)
    assert holding.wait(WAIT)
    return thread, release


def background_work(lock: ModelsLock, order: list[str]) -> threading.Thread:
    def background() -> None:
        with lock.background():
            order.append("background")
    return started(background)


def test_background_work_goes_at_once_when_no_request_came(clock):
    lock = ModelsLock(quiet_seconds=5.0)
    order: list[str] = []
    background_work(lock, order).join(WAIT)
    assert order == ["background"] and clock.polls == 0  # it never had to wait


def test_background_work_waits_for_the_request_and_then_the_quiet_time(clock):
    lock = ModelsLock(quiet_seconds=1.0)
    order: list[str] = []
    request, release = holding_request(lock, order, "request")
    background = background_work(lock, order)
    clock.wait_polls()
    assert order == []  # the request holds the lock
    release.set()
    request.join(WAIT)
    clock.advance(lock.quiet_seconds / 2)
    clock.wait_polls()
    assert order == ["request"]  # released, but not quiet for long enough yet
    clock.advance(lock.quiet_seconds / 2)
    background.join(WAIT)
    assert order == ["request", "background"]


def test_a_request_arriving_while_background_work_waits_goes_first(clock):
    lock = ModelsLock(quiet_seconds=1.0)
    order: list[str] = []
    first, release = holding_request(lock, order, "first")
    background = background_work(lock, order)
    clock.wait_polls()
    release.set()
    first.join(WAIT)
    clock.wait_polls()  # the background work has seen the release and still waits (no time has passed)
    second, release_second = holding_request(lock, order, "second")  # within the quiet time: before it
    release_second.set()
    second.join(WAIT)
    clock.advance(lock.quiet_seconds)
    background.join(WAIT)
    assert order == ["first", "second", "background"]
