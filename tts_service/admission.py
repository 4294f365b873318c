"""Admission control for syntheses run on request (/synthesize, /v1/audio/speech): back-pressure.

At most `max_syntheses` run at once; up to `max_synthesis_waiting` more wait, each at most
`synthesis_wait` seconds, for a slot; anything beyond, or a waiter whose time is up, is refused at once
with 503 + Retry-After (code BUSY) instead of piling up. A whole synthesis holds its slot until its
audio is encoded; a stream until its last byte is sent or the client goes.

The engine runs in this module's own thread pool (one thread per slot), never in the shared anyio
pool that FastAPI uses for sync routes and dependencies: however many syntheses run or wait, /healthz,
the admin page's listings and the task queries keep their threads. Waiting for a slot takes no thread.

The task queue's workers do not take these slots: they are bounded already (`task_workers`), and
tasks wait in their durable queue instead of failing. Sharing would let a backlog of tasks starve
interactive callers, or a burst of interactive callers stall the queue. So at most
max_syntheses + task_workers syntheses run at once. A task's synthesis is only marked here
(`task_running`), so that background work (a fine-tune between its steps) yields to it as to a slot's.

Waiting is loop-agnostic (a lock, and futures woken thread-safely), so one instance serves any number
of event loops: uvicorn runs one, Starlette's TestClient may run one per request.
"""
from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Iterator, TypeVar

from .envelope import busy
from .settings import Settings

T = TypeVar("T")

# Retry-After when full, seconds: a hint of how soon a slot may be free (one synthesis takes seconds).
RETRY_AFTER = 5.0
FULL = "合成繁忙：同时进行的合成已达上限（{running} 个，另有 {waiting} 个在排队），请稍后重试"
TIMED_OUT = "合成繁忙：等待 {wait:g} 秒仍无空闲的合成名额，请稍后重试"


@dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    granted: bool = False  # set under the lock by release(): the slot is this waiter's now


class SynthesisSlots:
    def __init__(self, slots: int, waiting: int, wait: float):
        self.slots, self.max_waiting, self.wait = max(1, slots), max(0, waiting), max(0.0, wait)
        self._lock = threading.Lock()  # guards the two counts below
        self._running = 0  # slots taken
        self._tasks = 0  # the task queue's syntheses running (they take no slot; training yields to them)
        self._waiters: deque[_Waiter] = deque()  # oldest first
        self._idle = threading.Condition(self._lock)  # notified when the last running synthesis ends
        # One thread per slot. A stream whose client went keeps its thread until the segment being
        # computed ends (the engine stops at segment boundaries), so the next synthesis waits for it:
        # the slot is free, the engine not yet. Made on first use, again after close().
        self._executor: ThreadPoolExecutor | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "SynthesisSlots":
        return cls(settings.max_syntheses, settings.max_synthesis_waiting, settings.synthesis_wait)

    def status(self) -> dict:
        """For /healthz: slots, how many are taken, how many requests wait for one."""
        with self._lock:
            return {"slots": self.slots, "running": self._running, "waiting": len(self._waiters),
                    "max_waiting": self.max_waiting}

    # ---- taking and giving back a slot ---------------------------------------------------------
    async def acquire(self) -> None:
        """Take a slot, waiting for one if allowed; ApiError BUSY (503, Retry-After) if not."""
        with self._lock:
            if self._running < self.slots and not self._waiters:
                self._running += 1
                return
            if len(self._waiters) >= self.max_waiting:
                raise busy(FULL.format(running=self._running, waiting=len(self._waiters)), 503, RETRY_AFTER)
            loop = asyncio.get_running_loop()
            waiter = _Waiter(loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await asyncio.wait({waiter.future}, timeout=self.wait)
        except BaseException:  # cancelled (the client went): give back a slot handed over meanwhile
            if not self._withdraw(waiter):
                self.release()
            raise
        if not self._withdraw(waiter):
            return  # granted (perhaps at the very instant the wait timed out)
        raise busy(TIMED_OUT.format(wait=self.wait), 503, RETRY_AFTER)

    def _withdraw(self, waiter: _Waiter) -> bool:
        """Leave the queue; False if the slot was already handed to this waiter (it holds it now)."""
        with self._lock:
            if waiter.granted:
                return False
            if waiter in self._waiters:  # not there only if release() found its loop closed
                self._waiters.remove(waiter)
            return True

    def release(self) -> None:
        """Give a slot back: straight to the oldest waiter, if any (no newcomer can overtake it)."""
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                try:
                    waiter.loop.call_soon_threadsafe(_wake, waiter.future)
                except RuntimeError:  # its event loop is closed: nobody is waiting there any more
                    continue
                waiter.granted = True
                return
            self._running -= 1
            if self._running == 0:
                self._idle.notify_all()

    @contextlib.contextmanager
    def task_running(self) -> Iterator[None]:
        """Held by a task worker while its synthesis runs: no slot, but `wait_until_idle` waits for it."""
        with self._lock:
            self._tasks += 1
        try:
            yield
        finally:
            with self._lock:
                self._tasks -= 1
                self._idle.notify_all()

    def wait_until_idle(self, give_up: Callable[[], bool], check_every: float = 0.5) -> bool:
        """Block while syntheses run or wait for a slot, or the task queue's syntheses run (background
        work, a fine-tune, yields to them), or until `give_up()`; True if it waited."""
        waited = False
        with self._lock:
            while (self._running or self._waiters or self._tasks) and not give_up():
                waited = True
                self._idle.wait(check_every)
        return waited

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    # ---- running the engine --------------------------------------------------------------------
    async def run(self, func: Callable[..., T], *args) -> T:
        """`func(*args)` in the synthesis threads (the caller holds a slot), not the shared pool."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.slots, thread_name_prefix="synthesis")
            executor = self._executor
        return await asyncio.get_running_loop().run_in_executor(executor, func, *args)

    def close(self) -> None:
        """At shutdown: idle threads end; a synthesis still running finishes in its thread."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def release_once(slots: SynthesisSlots, also: Callable[[], None] | None = None) -> Callable[[], None]:
    """A release that acts the first time only (a stream ends through whichever path comes first);
    `also` runs with it (a stream stops its synthesis)."""
    lock, done = threading.Lock(), False

    def release() -> None:
        nonlocal done
        with lock:
            if done:
                return
            done = True
        try:
            if also is not None:
                also()
        finally:
            slots.release()
    return release
