"""Tasks in Redis, so that several processes (each with its own device) serve one queue.

Keys (all under one prefix, `tts:tasks:` by default):
- `task:<id>`   string, the entry as JSON (the same dict the file store writes, key for key);
- `all`         zset of every task id (score: creation time in ms);
- `user:<uid>`  set of that user's task ids (listings);
- `live`        set of waiting and running ids (recovery scans only these);
- `waiting`     zset of waiting ids, oldest first: a dispatch hint, not the truth;
- `lease:<id>`  string with a TTL, set while a process runs the task; its value is that claim's token.

Every change is a WATCH/MULTI transaction on the task's key (redis-py retries it when another client
got there first), so the record is the one truth and a claim is atomic across processes: of two
workers claiming one task, one sees `wait` and moves it to `run`, the other sees `run` and gets None.

A running task is owned through its lease, which a heartbeat thread renews. When a process dies
(kill -9), its leases expire; the next `recover` (or `reap`) of any process puts those tasks back to
`wait`, or ends them `error`/`interrupted` once they used `max_attempts`. A process whose lease was
lost is fenced: its later writes to that task are refused, as for a finished task.

Result WAVs and task logs stay on the file system, so the processes must share the data dir.
"""
from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from typing import Callable
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from .backend import Recovery, TaskBackend
from .record import ERROR, INTERRUPTED, INTERRUPTED_MESSAGE, LIVE, RUN, TERMINAL, WAIT, newest_first, now

log = logging.getLogger("tts_service.tasks")

PREFIX = "tts:tasks:"
LEASE_SECONDS = 30.0  # a dead process's task waits this long before another process may run it
CONNECT_TIMEOUT = 5.0  # seconds: an unreachable host is an error at start-up, not a hang
SOCKET_TIMEOUT = 10.0  # longer than any blocking pop below
ORDER_SLOTS = 1_000_000  # queue scores: created_at * ORDER_SLOTS + a counter (exact in a double)


class RedisUnavailable(RuntimeError):
    """Redis could not be reached (at start-up: the service refuses to start)."""


def connect(url: str) -> redis.Redis:
    """One client (a connection pool) for the life of the backend, with timeouts and a few quick
    retries on a dropped connection, instead of a new client per operation."""
    client = redis.Redis.from_url(
        url, decode_responses=True, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT,
        health_check_interval=30, retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 3),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError])
    try:
        client.ping()
    except redis.RedisError as exc:
        raise RedisUnavailable(f"cannot reach Redis at {safe_url(url)} ({exc}); start redis-server there, "
                               "or leave --redis-url unset to keep tasks in files") from exc
    return client


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


class RedisTaskBackend(TaskBackend):
    def __init__(self, client: redis.Redis, prefix: str = PREFIX, lease_seconds: float = LEASE_SECONDS):
        self.r, self.prefix = client, prefix
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self._held: dict[str, str] = {}  # task id -> lease token of the claims this process runs
        self._lost: set[str] = set()  # held, but the lease expired: no more renewals
        self._lock = threading.Lock()
        self._heartbeat: threading.Thread | None = None
        self._last_reap = 0.0
        self.max_attempts = 3  # set by recover()

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

    # --- one atomic step on one task ------------------------------------------------------------
    def _atomic(self, task_id: str, change: Callable[[dict | None], tuple], *, unleased_only: bool = False):
        """Read the entry, let `change` decide, apply its writes in MULTI; WATCH retries on a race.

        `change(entry)` returns (result, writes): writes(pipe, result) queues the commands, or is None
        when nothing is to be written. A task this process claimed is fenced: once its lease is not ours
        any more (it expired and another process may run the task), nothing we write reaches it.
        `unleased_only`: act only if nobody holds a lease (reaping a dead process's task)."""
        token = None if unleased_only else self._held.get(task_id)

        def attempt(pipe):
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

        return self.r.transaction(attempt, self._task(task_id), self._lease(task_id), value_from_callable=True)

    def _put(self, pipe, entry: dict) -> None:
        pipe.set(self._task(entry["task_id"]), json.dumps(entry, ensure_ascii=False))

    def _unindex_live(self, pipe, task_id: str) -> None:
        pipe.srem(self.key("live"), task_id)
        pipe.zrem(self.key("waiting"), task_id)
        pipe.delete(self._lease(task_id))

    def _release(self, task_id: str) -> None:
        with self._lock:
            self._held.pop(task_id, None)
            self._lost.discard(task_id)

    # --- start-up and dead workers --------------------------------------------------------------
    def recover(self, max_attempts: int) -> Recovery:
        """Tasks of dead processes back to `wait` (or interrupted); every waiting task to queue, oldest
        first. Tasks other processes are running (fresh leases) are left alone."""
        self.max_attempts = max(1, max_attempts)
        report = Recovery()
        report.interrupted = self.reap()
        waiting = [e for e in self._read_many(sorted(self.r.smembers(self.key("live")))) if e["status"] == WAIT]
        for entry in sorted(waiting, key=lambda e: (e.get("created_at", 0), e["task_id"])):
            report.queued.append(entry["task_id"])
        if waiting:  # re-announce them, in case a dispatcher popped one and died before claiming it
            self.r.zadd(self.key("waiting"), {e["task_id"]: self._order(e) for e in waiting}, nx=True)
        return report

    def reap(self) -> list[str]:
        """Running tasks whose lease expired: back to `wait` with their attempts kept, or ended as
        interrupted after max_attempts. Returns the ids ended as interrupted."""
        self._last_reap = time.monotonic()
        interrupted = []
        for task_id in sorted(self.r.smembers(self.key("live"))):
            if self.r.exists(self._lease(task_id)):
                continue  # a live process runs it (or it waits: waiting tasks have no lease)
            result = self._atomic(task_id, lambda entry: self._orphan(task_id, entry), unleased_only=True)
            if result is not None and result["status"] == ERROR:
                interrupted.append(task_id)
                log.warning("task %s: its process died %d times under it: interrupted", task_id, self.max_attempts)
            elif result is not None:
                log.warning("task %s: its process stopped renewing its lease: queued again", task_id)
        return interrupted

    def _orphan(self, task_id: str, entry: dict | None) -> tuple:
        if entry is None:  # index left over from a removed task
            return None, lambda pipe, _: self._unindex_live(pipe, task_id)
        if entry["status"] != RUN:
            return None, None
        if entry.get("attempts", 0) >= self.max_attempts:
            stamp = now()
            final = {**entry, "status": ERROR, "reason": INTERRUPTED, "error": INTERRUPTED_MESSAGE,
                     "updated_at": stamp, "finished_at": stamp}
            return final, self._write_final
        return {**entry, "status": WAIT, "updated_at": now()}, self._write_waiting

    def _write_waiting(self, pipe, entry: dict) -> None:
        self._put(pipe, entry)
        pipe.zadd(self.key("waiting"), {entry["task_id"]: self._order(entry)})
        pipe.delete(self._lease(entry["task_id"]))

    def _write_final(self, pipe, entry: dict) -> None:
        self._put(pipe, entry)
        self._unindex_live(pipe, entry["task_id"])

    # --- reads ----------------------------------------------------------------------------------
    def _read_many(self, task_ids: list[str]) -> list[dict]:
        found = []
        for start in range(0, len(task_ids), 500):
            chunk = task_ids[start:start + 500]
            for raw in self.r.mget([self._task(t) for t in chunk]) if chunk else []:
                if raw:
                    found.append(json.loads(raw))
        return found

    def get(self, task_id: str) -> dict | None:
        raw = self.r.get(self._task(task_id))
        return json.loads(raw) if raw else None

    def list_user(self, user_id: str) -> list[dict]:
        ids = sorted(self.r.smembers(self.key("user", user_id)))
        return newest_first([e for e in self._read_many(ids) if e["user_id"] == user_id])

    def entries(self) -> list[dict]:
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
            pipe.zadd(self.key("waiting"), {task_id: order})

        return bool(self._atomic(task_id, lambda known: (False, None) if known else (True, writes)))

    def claim(self, task_id: str) -> dict | None:
        token = secrets.token_hex(8)

        def take(entry):
            if entry is None or entry["status"] != WAIT:
                return None, None
            stamp = now()
            claimed = {**entry, "status": RUN, "attempts": entry.get("attempts", 0) + 1, "started_at": stamp,
                       "updated_at": stamp}

            def writes(pipe, result):
                self._put(pipe, result)
                pipe.zrem(self.key("waiting"), task_id)
                pipe.set(self._lease(task_id), token, px=self.lease_ms)
            return claimed, writes

        self._release(task_id)  # a stale token of ours must not fence our own new claim
        claimed = self._atomic(task_id, take)
        if claimed is not None:
            with self._lock:
                self._held[task_id] = token
                self._start_heartbeat()
        return claimed

    def next_task(self, timeout: float = 1.0) -> str | None:
        """For a shared dispatcher: block up to `timeout` s for the oldest waiting task id, or None.
        Popping only hands out the id; `claim` decides. Idle callers also reap dead workers' tasks."""
        if time.monotonic() - self._last_reap > self.lease_ms / 3000:
            self.reap()
        popped = self.r.bzpopmin(self.key("waiting"), timeout=timeout)
        return popped[1] if popped else None

    def update(self, task_id: str, **changes) -> dict | None:
        def change(entry):
            if entry is None or entry["status"] not in LIVE:
                return None, None  # never resurrect a deleted or finished task
            changed = {**entry, **changes, "updated_at": now()}
            if changed["status"] not in LIVE:
                raise ValueError("use finish() to end a task")
            return changed, self._put
        return self._atomic(task_id, change)

    def finish(self, task_id: str, status: str, **changes) -> dict | None:
        if status not in TERMINAL:
            raise ValueError(f"not a final status: {status}")

        def change(entry):
            if entry is None or entry["status"] not in LIVE:
                return None, None
            stamp = now()
            return {**entry, **changes, "status": status, "updated_at": stamp, "finished_at": stamp}, \
                self._write_final
        final = self._atomic(task_id, change)
        self._release(task_id)
        return final

    def requeue(self, task_id: str, **changes) -> dict | None:
        def change(entry):
            if entry is None or entry["status"] != RUN:
                return None, None
            return {**entry, **changes, "status": WAIT, "updated_at": now()}, self._write_waiting
        waiting = self._atomic(task_id, change)
        self._release(task_id)
        return waiting

    def remove(self, task_id: str) -> dict | None:
        def change(entry):
            if entry is None:
                return None, None

            def writes(pipe, _):
                pipe.delete(self._task(task_id))
                pipe.zrem(self.key("all"), task_id)
                pipe.srem(self.key("user", entry["user_id"]), task_id)
                self._unindex_live(pipe, task_id)
            return entry, writes
        removed = self._atomic(task_id, change)
        self._release(task_id)
        return removed

    # --- leases ---------------------------------------------------------------------------------
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
                except redis.RedisError as exc:  # Redis away for a moment: retried next beat
                    log.warning("task %s: lease not renewed (%s)", task_id, exc)

    def _renew(self, task_id: str, token: str) -> bool:
        def attempt(pipe):
            if pipe.get(self._lease(task_id)) != token:
                return False
            pipe.multi()
            pipe.pexpire(self._lease(task_id), self.lease_ms)
            return True
        return self.r.transaction(attempt, self._lease(task_id), value_from_callable=True)
