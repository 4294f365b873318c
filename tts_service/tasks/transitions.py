"""A task's state changes, as pure functions of its entry: the one statement of the rules that every
backend applies (each in its own atomic step: a lock and a file for the file store, a transaction for Redis).

    wait --claimed--> run --finished--> done | error
    run --requeued--> wait                           (a clean shutdown gave the attempt back)
    run --recovered--> wait, or error/interrupted    (its process died; after max_attempts it is given up)

Each returns the new entry, or None when the change does not apply (the task is gone, finished, or not in
the state the change starts from): a backend then writes nothing, so a deleted or finished task is never
brought back. `stamp` is the time of the change (record.now()).
"""
from __future__ import annotations

from .record import ERROR, INTERRUPTED, INTERRUPTED_MESSAGE, LIVE, RUN, TERMINAL, WAIT, kind_of


def claimed(entry: dict | None, stamp: int, kind: str | None = None) -> dict | None:
    """wait -> run, with one more attempt; only a task of `kind` when it is given (a worker that runs one
    kind never takes another's task, whatever id its dispatch handed it)."""
    if entry is None or entry["status"] != WAIT or (kind is not None and kind_of(entry) != kind):
        return None
    return {**entry, "status": RUN, "attempts": entry.get("attempts", 0) + 1, "started_at": stamp,
            "updated_at": stamp}


def updated(entry: dict | None, changes: dict, stamp: int) -> dict | None:
    """A waiting or running task with `changes` (progress); ValueError if they would end it."""
    if entry is None or entry["status"] not in LIVE:
        return None
    changed = {**entry, **changes, "updated_at": stamp}
    if changed["status"] not in LIVE:
        raise ValueError("use finish() to end a task")
    return changed


def finished(entry: dict | None, status: str, changes: dict, stamp: int) -> dict | None:
    """A waiting or running task ended as `done` or `error`."""
    if status not in TERMINAL:
        raise ValueError(f"not a final status: {status}")
    if entry is None or entry["status"] not in LIVE:
        return None
    return {**entry, **changes, "status": status, "updated_at": stamp, "finished_at": stamp}


def requeued(entry: dict | None, changes: dict, stamp: int) -> dict | None:
    """run -> wait."""
    if entry is None or entry["status"] != RUN:
        return None
    return {**entry, **changes, "status": WAIT, "updated_at": stamp}


def recovered(entry: dict | None, max_attempts: int, stamp: int) -> dict | None:
    """A running task whose process is gone: waiting again with its attempts kept, or, once it has used
    `max_attempts`, ended as interrupted (a task that kills its process must not do so forever)."""
    if entry is None or entry["status"] != RUN:
        return None
    if entry.get("attempts", 0) >= max_attempts:
        return finished(entry, ERROR, {"reason": INTERRUPTED, "error": INTERRUPTED_MESSAGE}, stamp)
    return requeued(entry, {}, stamp)


def recovery_order(entries: list[dict]) -> list[dict]:
    """The order waiting tasks are queued in at start-up: oldest submission first, the id breaking ties."""
    return sorted(entries, key=lambda e: (e.get("created_at", 0), e["task_id"]))
