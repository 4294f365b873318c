"""Leases on the tasks this process runs (part of `RedisTaskBackend`): the claims it holds, the heartbeat
thread that renews their leases, and letting go of one.

A lease is renewed only while its claim is held: `finish`, `requeue` and `remove` let go, and so does the
worker when it gives up on a task (`release`), so that a task the worker no longer runs is never kept
alive by the heartbeat: its lease expires and the task is reaped and runs again. While the process holds
claims, its workers are busy and do not fetch, so the heartbeat also does their upkeep (`maintain`).
"""
from __future__ import annotations

import logging
import threading
import time

from .redis_client import TRANSIENT_ERRORS

log = logging.getLogger("tts_service.tasks")


class EpochChanged(Exception):
    """Redis's epoch is not the one this process knows: it lost its data; restore, then try again."""


class LeaseHolder:
    """Mixed into RedisTaskBackend, whose `r`, `lease_ms`, `_lease`, `_epoch_key`, `_epoch`,
    `_fenced_by_epoch` and `maintain` it uses."""

    def __init__(self) -> None:
        self._held: dict[str, str] = {}  # task id -> lease token of the claims this process runs
        self._lost: set[str] = set()  # held, but the lease expired: no more renewals
        self._lock = threading.Lock()
        self._heartbeat: threading.Thread | None = None

    def _release(self, task_id: str) -> None:
        with self._lock:
            self._held.pop(task_id, None)
            self._lost.discard(task_id)

    def release(self, task_id: str) -> None:
        """The worker let go of this claim (it gave up on a write): stop renewing its lease, so that it
        expires and the task is reaped and runs again (or ends interrupted after max_attempts)."""
        self._release(task_id)

    def _start_heartbeat(self) -> None:
        """One daemon thread per backend while it holds claims; it ends when it holds none."""
        if self._heartbeat is None or not self._heartbeat.is_alive():
            self._heartbeat = threading.Thread(target=self._renew_forever, name="task-lease", daemon=True)
            self._heartbeat.start()

    def _renew_forever(self) -> None:
        while True:
            time.sleep(self.lease_ms / 3000)
            with self._lock:
                held = dict(self._held)
                if not held:
                    self._heartbeat = None
                    return
            for task_id, token in held.items():
                if task_id in self._lost:
                    continue
                try:
                    if not self._renew(task_id, token):  # it stays held, so fenced, until we let go
                        self._lost.add(task_id)
                        log.warning("task %s: lease lost; another process may run it, our writes are refused",
                                    task_id)
                except TRANSIENT_ERRORS as exc:  # Redis away for a while: retried next beat
                    log.warning("task %s: lease not renewed (%s)", task_id, exc)
                except Exception:  # whatever it is, the heartbeat must outlive it: the others still run
                    log.exception("task %s: lease not renewed", task_id)
            try:
                self.maintain()  # the workers are busy: reap and reconcile from here meanwhile
            except TRANSIENT_ERRORS:
                pass  # Redis away: already logged above, tried again next beat
            except Exception:
                log.exception("task queue: reap/reconcile failed")

    def _renew(self, task_id: str, token: str) -> bool:
        def attempt(pipe):
            if pipe.get(self._epoch_key) != self._epoch:
                raise EpochChanged  # an empty Redis has no lease: restore ours rather than call it lost
            if pipe.get(self._lease(task_id)) != token:
                return False
            pipe.multi()
            pipe.pexpire(self._lease(task_id), self.lease_ms)
            return True
        return self._fenced_by_epoch(lambda: self.r.transaction(
            attempt, self._lease(task_id), self._epoch_key, value_from_callable=True))
