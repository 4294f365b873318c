"""Retention: finished tasks (done or error) are removed with their WAV and log after `retention` seconds.

Waiting and running tasks are never touched, whatever their age. A period <= 0 keeps everything.
Each removal re-checks the task in the same atomic step, so a task re-created under a listed id is kept.
The sweep runs every retention/10 seconds, clamped to [30 s, 300 s] (the seed's rhythm).
"""
from __future__ import annotations

import asyncio
import logging
import time

from . import files
from .queue import TaskQueue
from .record import TERMINAL

log = logging.getLogger("tts_service.tasks")


def sweep_interval(retention: float) -> float:
    return min(300.0, max(30.0, retention / 10))


def is_expired(entry: dict, expire_before: float) -> bool:
    """Finished (done or error) no later than `expire_before`."""
    finished = entry.get("finished_at") or entry.get("updated_at") or 0
    return entry["status"] in TERMINAL and finished <= expire_before


def sweep(queue: TaskQueue, retention: float, now: float | None = None) -> list[str]:
    """Remove the finished tasks older than `retention`; the ids removed. Blocking (file I/O)."""
    if retention <= 0:
        return []
    expire_before = (time.time() if now is None else now) - retention
    removed = []
    for entry in queue.backend.entries():
        if is_expired(entry, expire_before) and _remove(queue, entry["task_id"], expire_before):
            removed.append(entry["task_id"])
            log.info("[CLEANUP] user=%s task=%s reason=expired", entry["user_id"], entry["task_id"])
    return removed


def _remove(queue: TaskQueue, task_id: str, expire_before: float) -> bool:
    """The task with its WAV and log, if it is still expired when removed: the listing may be stale by
    then, and a task deleted and submitted again under the same id since is a new task, which stays
    (the backend checks the entry and removes it in one atomic step)."""
    if queue.backend.remove(task_id, only_if=lambda entry: is_expired(entry, expire_before)) is None:
        return False
    files.unlink(queue.audio_path(task_id))
    queue.logs.remove(task_id)
    return True


async def run_forever(queue: TaskQueue, retention: float) -> None:
    """The background sweeper; cancelled at shutdown."""
    if retention <= 0:
        return
    while True:
        try:
            await asyncio.to_thread(sweep, queue, retention)
        except Exception:  # a failed sweep is retried next time; it must not stop the sweeper
            log.exception("task retention sweep failed")
        await asyncio.sleep(sweep_interval(retention))
