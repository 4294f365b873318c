"""Tasks in Redis, so that several processes (each with its own device) serve one queue.

Keys (all under one prefix, `tts:tasks:` by default):
- `task:<id>`   string, the entry as JSON (the same dict the file store writes, key for key);
- `all`         zset of every task id (score: creation time in ms);
- `user:<uid>`  set of that user's task ids (listings);
- `live`        set of waiting and running ids (recovery scans only these);
- `waiting`     zset of waiting synthesis ids, oldest first: a dispatch hint, not the truth;
- `waiting:<kind>` the same for the tasks of another kind (`waiting:finetune`): each kind has its own
                queue, so a worker asks only for the kinds it runs. Syntheses keep the key all tasks
                shared before kinds had queues; `reconcile` moves a task of another kind found there
                (queued by an earlier version) to its own queue, so nothing queued before an upgrade
                is lost;
- `lease:<id>`  string with a TTL, set while a process runs the task; its value is that claim's token;
- `epoch`       a random value set once: gone means Redis lost its data (restarted without persistence).

Every change is a WATCH/MULTI transaction on the task's key (redis-py retries it when another client
got there first), so the record is the one truth and a claim is atomic across processes: of two
workers claiming one task, one sees `wait` and moves it to `run`, the other sees `run` and gets None.

A running task is owned through its lease, which a heartbeat thread renews. When a process dies
(kill -9), its leases expire; the next `recover` (or `reap`) of any process puts those tasks back to
`wait`, or ends them `error`/`interrupted` once they used `max_attempts`. A process whose lease was
lost is fenced: its later writes to that task are refused, as for a finished task.

Redis going away for a while is not fatal: every method raises one of `transient_errors` meanwhile,
which the worker waits out. Each transaction also checks the epoch: when Redis came back empty, the
process first writes back what it knows (`redis_journal.Journal`: every live task, its own recent
results and the leases it holds), then carries on as if nothing happened.

Result WAVs and task logs stay on the file system, so the processes must share the data dir.
"""
from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from typing import Callable

import redis

from .backend import Recovery, TaskBackend
from .record import ERROR, LIVE, RUN, SYNTHESIS, WAIT, kind_of, newest_first, now
from .redis_client import NEXT_TASK_BLOCK, TRANSIENT_ERRORS, HealthProbe, connect
from .redis_client import RedisUnavailable  # noqa: F401 (raised by from_url; imported from here)
from .redis_journal import Journal
from .redis_leases import EpochChanged, LeaseHolder
from .transitions import claimed, finished, recovered, recovery_order, requeued, updated

log = logging.getLogger("tts_service.tasks")

PREFIX = "tts:tasks:"
LEASE_SECONDS = 30.0  # a dead process's task waits this long before another process may run it
ORDER_SLOTS = 1_000_000  # queue scores: created_at * ORDER_SLOTS + a counter (exact in a double)


class RedisTaskBackend(LeaseHolder, TaskBackend):
    transient_errors = TRANSIENT_ERRORS

    def __init__(self, client: redis.Redis, prefix: str = PREFIX, lease_seconds: float | None = None):
        self.r, self.prefix = client, prefix
        self.lease_ms = max(1, int((LEASE_SECONDS if lease_seconds is None else lease_seconds) * 1000))
        LeaseHolder.__init__(self)
        self._last_reap = 0.0
        self.max_attempts = 3  # set by recover()
        self.journal = Journal()
        self._epoch: str | None = None  # the epoch this process's view belongs to; None until first use
        self._restoring = threading.Lock()
        self._probe: HealthProbe | None = None

    @classmethod
    def from_url(cls, url: str, **options) -> "RedisTaskBackend":
        return cls(connect(url), **options)

    # --- keys -----------------------------------------------------------------------------------
    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _task(self, task_id: str) -> str:
        return self.key("task", task_id)

    def _lease(self, task_id: str) -> str:
        return self.key("lease", task_id)

    def _waiting(self, kind: str) -> str:
        """The dispatch queue of a kind's waiting tasks (syntheses: the key of before kinds had queues)."""
        return self.key("waiting") if kind == SYNTHESIS else self.key("waiting", kind)

    @property
    def _epoch_key(self) -> str:
        return self.key("epoch")

    # --- one atomic step on one task ------------------------------------------------------------
    def _atomic(self, task_id: str, change: Callable[[dict | None], tuple], *, unleased_only: bool = False):
        """Read the entry, let `change` decide, apply its writes in MULTI; WATCH retries on a race.

        `change(entry)` returns (result, writes): writes(pipe, result) queues the commands, or is None
        when nothing is to be written. A task this process claimed is fenced: once its lease is not ours
        any more (it expired and another process may run the task), nothing we write reaches it.
        `unleased_only`: act only if nobody holds a lease (reaping a dead process's task)."""
        token = None if unleased_only else self._held.get(task_id)

        def attempt(pipe):
            if pipe.get(self._epoch_key) != self._epoch:
                raise EpochChanged  # never write into a Redis that lost its data before restoring it
            raw, lease = pipe.get(self._task(task_id)), pipe.get(self._lease(task_id))
            entry = json.loads(raw) if raw else None
            if unleased_only and lease is not None:
                return None
            if entry is not None and token is not None and lease != token:
                return None  # fenced, whatever the state: the task may be waiting for, or run by, another
            result, writes = change(entry)
            if writes is not None:
                pipe.multi()
                writes(pipe, result)
            return result

        return self._fenced_by_epoch(lambda: self.r.transaction(
            attempt, self._task(task_id), self._lease(task_id), self._epoch_key, value_from_callable=True))

    def _fenced_by_epoch(self, transaction: Callable[[], object]):
        """Run a transaction that checks the epoch; on a reset, restore first, then run it again."""
        if self._epoch is None:
            self.sync_epoch()
        for _ in range(3):
            try:
                return transaction()
            except EpochChanged:
                self.sync_epoch()
        raise redis.ConnectionError("Redis keeps losing its data; will try again")

    def _put(self, pipe, entry: dict) -> None:
        pipe.set(self._task(entry["task_id"]), json.dumps(entry, ensure_ascii=False))

    def _unindex_live(self, pipe, task_id: str, kind: str = SYNTHESIS) -> None:
        pipe.srem(self.key("live"), task_id)
        pipe.zrem(self._waiting(kind), task_id)  # an unknown kind's stray id is harmless: claim refuses it
        pipe.delete(self._lease(task_id))

    # --- start-up and dead workers --------------------------------------------------------------
    def recover(self, max_attempts: int) -> Recovery:
        """Tasks of dead processes back to `wait` (or interrupted); every waiting task to queue, oldest
        first. Tasks other processes are running (fresh leases) are left alone."""
        self.max_attempts = max(1, max_attempts)
        self.sync_epoch()
        report = Recovery()
        report.interrupted = self.reap()
        waiting = self.reconcile()
        report.queued = [e["task_id"] for e in recovery_order(waiting)]
        return report

    def reconcile(self) -> list[dict]:
        """Every waiting task back in the `waiting` index (a dispatcher may have popped one and failed or
        died before claiming it: `claim` decides, so a stray id costs nothing), and the journal refreshed
        with every live task. Returns the waiting entries."""
        mark = self.journal.mark()
        live = self._read_many(sorted(self.r.smembers(self.key("live"))))
        waiting = [e for e in live if e["status"] == WAIT]
        by_kind: dict[str, dict[str, float]] = {}
        for entry in waiting:
            by_kind.setdefault(kind_of(entry), {})[entry["task_id"]] = self._order(entry)
        for kind, scores in by_kind.items():
            self.r.zadd(self._waiting(kind), scores, nx=True)
            if kind != SYNTHESIS:  # queued by an earlier version in the one shared queue: now in its own
                self.r.zrem(self._waiting(SYNTHESIS), *scores)
        self.journal.refresh(live, mark)
        return waiting

    def maintain(self) -> None:
        """Every third of a lease, from an idle worker's fetch or, while all are busy, the heartbeat."""
        if time.monotonic() - self._last_reap > self.lease_ms / 3000:
            self.reap()
            self.reconcile()

    # --- Redis lost its data ---------------------------------------------------------------------
    def sync_epoch(self) -> None:
        """Cheap when nothing happened (one GET). When Redis's epoch is gone or not ours (it restarted
        empty, or was flushed), write back what this process knows, then adopt the current epoch; a
        failure half way leaves the old one, so the next call restores again (restoring is idempotent)."""
        if self._epoch is not None and self.r.get(self._epoch_key) == self._epoch:
            return
        with self._restoring:
            self.r.set(self._epoch_key, secrets.token_hex(8), nx=True)
            current = self.r.get(self._epoch_key)
            if current == self._epoch:
                return  # another thread of this process restored meanwhile
            if self._epoch is not None:
                restored = sum(self._restore(entry) for entry in self.journal.entries())
                log.warning("task queue: Redis lost its data (restarted empty?); %d task(s) restored from "
                            "this process's copy", restored)
            self._epoch = current

    def _restore(self, entry: dict) -> bool:
        """Write back one known task unless Redis has it (another process restored it first). A claim
        this process still runs gets its lease back; a running task nobody holds is left to `reap`."""
        task_id = entry["task_id"]
        with self._lock:
            token = self._held.get(task_id) if task_id not in self._lost else None
        order = entry.get("created_at", 0) * ORDER_SLOTS

        def attempt(pipe):
            if pipe.exists(self._task(task_id)):
                return False
            pipe.multi()
            self._put(pipe, entry)
            pipe.zadd(self.key("all"), {task_id: order})
            pipe.sadd(self.key("user", entry["user_id"]), task_id)
            if entry["status"] in LIVE:
                pipe.sadd(self.key("live"), task_id)
            if entry["status"] == WAIT:
                pipe.zadd(self._waiting(kind_of(entry)), {task_id: order})
            if entry["status"] == RUN and token is not None:
                pipe.set(self._lease(task_id), token, px=self.lease_ms)
            return True
        return self.r.transaction(attempt, self._task(task_id), value_from_callable=True)

    def health(self) -> dict:
        if self._probe is None:
            self._probe = HealthProbe(self.r)
        return self._probe()

    def reap(self) -> list[str]:
        """Running tasks whose lease expired: back to `wait` with their attempts kept, or ended as
        interrupted after max_attempts. Returns the ids ended as interrupted."""
        self._last_reap = time.monotonic()
        interrupted = []
        for task_id in sorted(self.r.smembers(self.key("live"))):
            if self.r.exists(self._lease(task_id)):
                continue  # a live process runs it (or it waits: waiting tasks have no lease)
            result = self._atomic(task_id, lambda entry: self._orphan(task_id, entry), unleased_only=True)
            if result is not None:
                self.journal.note(result)
            if result is not None and result["status"] == ERROR:
                interrupted.append(task_id)
                log.warning("task %s: its process died %d times under it: interrupted", task_id, self.max_attempts)
            elif result is not None:
                log.warning("task %s: its process stopped renewing its lease: queued again", task_id)
        return interrupted

    def _orphan(self, task_id: str, entry: dict | None) -> tuple:
        if entry is None:  # index left over from a removed task
            return None, lambda pipe, _: self._unindex_live(pipe, task_id)
        changed = recovered(entry, self.max_attempts, now())
        if changed is None:
            return None, None
        return changed, self._write_final if changed["status"] == ERROR else self._write_waiting

    def _write_waiting(self, pipe, entry: dict) -> None:
        self._put(pipe, entry)
        pipe.zadd(self._waiting(kind_of(entry)), {entry["task_id"]: self._order(entry)})
        pipe.delete(self._lease(entry["task_id"]))

    def _write_final(self, pipe, entry: dict) -> None:
        self._put(pipe, entry)
        self._unindex_live(pipe, entry["task_id"], kind_of(entry))

    # --- reads (each first checks the epoch: a client never sees tasks vanish while Redis is restored) --
    def _read_many(self, task_ids: list[str]) -> list[dict]:
        found = []
        for start in range(0, len(task_ids), 500):
            chunk = task_ids[start:start + 500]
            for raw in self.r.mget([self._task(t) for t in chunk]) if chunk else []:
                if raw:
                    found.append(json.loads(raw))
        return found

    def get(self, task_id: str) -> dict | None:
        self.sync_epoch()
        raw = self.r.get(self._task(task_id))
        return json.loads(raw) if raw else None

    def list_user(self, user_id: str) -> list[dict]:
        self.sync_epoch()
        ids = sorted(self.r.smembers(self.key("user", user_id)))
        return newest_first([e for e in self._read_many(ids) if e["user_id"] == user_id])

    def entries(self) -> list[dict]:
        self.sync_epoch()
        return self._read_many(self.r.zrange(self.key("all"), 0, -1))

    def count_unfinished(self, user_id: str) -> tuple[int, int]:
        """From the indexes, reading no entry: `live` holds exactly the waiting and running ids. (SINTER,
        not SINTERCARD, which needs Redis 7; the user's live ids are few, bounded by the per-user limit.)"""
        pipe = self.r.pipeline(transaction=False)
        pipe.scard(self.key("live"))
        pipe.sinter([self.key("live"), self.key("user", user_id)])
        total, mine = pipe.execute()
        return int(total), len(mine)

    # --- changes --------------------------------------------------------------------------------
    def _order(self, entry: dict) -> float:
        """A task's place in the queue: the score it got at submission (kept in the `all` index)."""
        score = self.r.zscore(self.key("all"), entry["task_id"])
        return score if score is not None else entry.get("created_at", 0) * ORDER_SLOTS

    def create(self, entry: dict) -> bool:
        task_id = entry["task_id"]
        # Submission order, also within one second: created_at scaled, plus a shared counter.
        order = entry.get("created_at", 0) * ORDER_SLOTS + self.r.incr(self.key("sequence")) % ORDER_SLOTS

        def writes(pipe, _):
            self._put(pipe, entry)
            pipe.zadd(self.key("all"), {task_id: order})
            pipe.sadd(self.key("user", entry["user_id"]), task_id)
            pipe.sadd(self.key("live"), task_id)
            pipe.zadd(self._waiting(kind_of(entry)), {task_id: order})

        created = bool(self._atomic(task_id, lambda known: (False, None) if known else (True, writes)))
        if created:
            self.journal.note(entry)
        return created

    def claim(self, task_id: str, kind: str | None = None) -> dict | None:
        token = secrets.token_hex(8)

        def writes(pipe, result):
            self._put(pipe, result)
            pipe.zrem(self._waiting(kind_of(result)), task_id)
            pipe.set(self._lease(task_id), token, px=self.lease_ms)

        self._release(task_id)  # a stale token of ours must not fence our own new claim
        running = self._atomic(task_id, lambda entry: _writing(claimed(entry, now(), kind), writes))
        if running is not None:
            self.journal.note(running)
            with self._lock:
                self._held[task_id] = token
                self._start_heartbeat()
        return running

    def next_task(self, kind: str = SYNTHESIS, timeout: float = NEXT_TASK_BLOCK) -> str | None:
        """For a shared dispatcher: block up to `timeout` s for the oldest waiting task id of `kind`, or
        None. Popping only hands out the id; `claim` decides (and refuses a task of another kind). Idle
        callers also notice a Redis that lost its data (and restore it), reap dead workers' tasks and
        reconcile the indexes."""
        self.sync_epoch()
        self.maintain()
        popped = self.r.bzpopmin(self._waiting(kind), timeout=timeout)
        return popped[1] if popped else None

    def stop_waiting(self) -> None:
        """Nothing to interrupt: a `next_task` call returns within NEXT_TASK_BLOCK anyway."""

    def update(self, task_id: str, **changes) -> dict | None:
        return self._noted(self._atomic(task_id, lambda entry: _writing(updated(entry, changes, now()), self._put)))

    def _noted(self, entry: dict | None) -> dict | None:
        if entry is not None:
            self.journal.note(entry)
        return entry

    def finish(self, task_id: str, status: str, **changes) -> dict | None:
        final = self._noted(self._atomic(
            task_id, lambda entry: _writing(finished(entry, status, changes, now()), self._write_final)))
        self._release(task_id)
        return final

    def requeue(self, task_id: str, **changes) -> dict | None:
        waiting = self._noted(self._atomic(
            task_id, lambda entry: _writing(requeued(entry, changes, now()), self._write_waiting)))
        self._release(task_id)
        return waiting

    def remove(self, task_id: str, only_if: Callable[[dict], bool] | None = None) -> dict | None:
        def change(entry):
            if entry is None or (only_if is not None and not only_if(entry)):
                return None, None

            def writes(pipe, _):
                pipe.delete(self._task(task_id))
                pipe.zrem(self.key("all"), task_id)
                pipe.srem(self.key("user", entry["user_id"]), task_id)
                self._unindex_live(pipe, task_id, kind_of(entry))
            return entry, writes
        removed = self._atomic(task_id, change)
        if removed is not None or only_if is None:  # a refused conditional removal keeps our claim
            self.journal.drop(task_id)
            self._release(task_id)
        return removed


def _writing(changed: dict | None, writes: Callable) -> tuple:
    """A transition's result as `_atomic` takes it: (the new entry, how to write it), or nothing to write."""
    return (changed, writes) if changed is not None else (None, None)
