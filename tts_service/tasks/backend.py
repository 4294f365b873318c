"""The seam between the worker pool and where tasks live: the contract every task backend fulfils.

`FileTaskStore` (store.py) is the default and needs no server: one JSON file per task, one process, and
an in-process dispatch queue. `RedisTaskBackend` (redis_backend.py) is shared by several processes, each
with its own device, serving one queue: its `claim` is atomic across processes, and its `recover`
re-queues only tasks whose owning process is gone (their lease expired). `factory.make_backend` picks one.

The state changes themselves are the pure functions of transitions.py; a backend makes each of them one
atomic step on its storage. Every task entering `wait` is offered to `next_task` (the dispatch); `claim`
decides who runs it, so an id handed out twice, or to several processes, costs nothing. Waiting tasks are
dispatched by kind (record.kind_of): the queue's synthesis workers ask for syntheses, its training workers
for fine-tunes, so a long training never holds up the syntheses queued after it.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable

from .record import SYNTHESIS


@dataclass
class Recovery:
    """What start-up found: tasks to queue again (oldest first) and what it repaired."""

    queued: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)  # ran too often; now error/interrupted
    repaired: int = 0  # stray temp files, files in the wrong folder, duplicates
    corrupt: list[str] = field(default_factory=list)  # unreadable files, set aside as *.corrupt


class TaskBackend(ABC):
    """Every method is atomic and thread-safe; each returns copies, never live entries."""

    # Errors that mean "the store is away for now" (Redis down or paused): the worker waits them out
    # with back-off and tries again rather than failing the task. The file store has none.
    transient_errors: tuple[type[BaseException], ...] = ()

    @abstractmethod
    def recover(self, max_attempts: int) -> Recovery:
        """Rebuild the state at start-up and repair what a crash left half done."""

    @abstractmethod
    def create(self, entry: dict) -> bool:
        """Store a new `wait` entry; False if its task_id exists already (in any state)."""

    @abstractmethod
    def get(self, task_id: str) -> dict | None: ...

    @abstractmethod
    def list_user(self, user_id: str) -> list[dict]:
        """The user's tasks, newest first."""

    @abstractmethod
    def entries(self) -> list[dict]:
        """Every task (for retention, health and tests)."""

    def count_unfinished(self, user_id: str) -> tuple[int, int]:
        """(waiting or running tasks in all, those of `user_id`): what the submission limits count.
        Backends override this with something cheaper than reading every entry."""
        live = [e for e in self.entries() if e["status"] in ("wait", "run")]
        return len(live), sum(1 for e in live if e["user_id"] == user_id)

    @abstractmethod
    def next_task(self, kind: str = SYNTHESIS) -> str | None:
        """Block a little while (about a second) for the id of a waiting task of `kind` to claim; None if
        there is none yet or the backend is stopping (`stop_waiting`). Called by each idle worker, in a
        thread. Each kind waits in a queue of its own: a synthesis never waits behind a fine-tune."""

    @abstractmethod
    def stop_waiting(self) -> None:
        """Shutdown: `next_task` calls return None from now on (within their short wait at most)."""

    @abstractmethod
    def claim(self, task_id: str, kind: str | None = None) -> dict | None:
        """wait -> run with one more attempt; None if the task is gone, not waiting, or (with `kind`) of
        another kind."""

    @abstractmethod
    def update(self, task_id: str, **changes) -> dict | None:
        """Change a waiting or running task; None (and nothing written) if it is finished or gone."""

    @abstractmethod
    def finish(self, task_id: str, status: str, **changes) -> dict | None:
        """Move a waiting or running task to `done` or `error`; None if it is finished or gone."""

    @abstractmethod
    def requeue(self, task_id: str, **changes) -> dict | None:
        """run -> wait (a clean shutdown stopped it); None if it is finished or gone."""

    @abstractmethod
    def remove(self, task_id: str, only_if: Callable[[dict], bool] | None = None) -> dict | None:
        """Delete the entry whatever its state, or only if `only_if(entry)` holds, checked in the same
        atomic step (the entry may have changed since the caller read it); the removed entry, or None."""

    def release(self, task_id: str) -> None:
        """The worker stopped running this claimed task without a final write (it gave up during an
        outage): with leases, stop renewing it so that the task is taken again. Nothing to do here."""

    def health(self) -> dict:
        """For /healthz `task_queue`: can the store be used now? Answers quickly, even while it is away."""
        return {"backend": "files", "ok": True}

