"""The Redis connection of the task backend: one client with short timeouts, the errors that mean "Redis is
away for now" (the worker waits them out), and the quick reachability probe behind /healthz."""
from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

log = logging.getLogger("tts_service.tasks")

NEXT_TASK_BLOCK = 1.0  # seconds an idle worker's fetch (BZPOPMIN) blocks waiting for a task
CONNECT_TIMEOUT = 2.0  # seconds: an unreachable host is an error, at start-up and after, not a hang
SOCKET_TIMEOUT = NEXT_TASK_BLOCK + 2.0  # a paused Redis (SIGSTOP, DEBUG SLEEP) costs this per command
PROBE_TIMEOUT = 1.0  # the /healthz ping's connect and reply timeout
PROBE_CACHE = 1.0  # seconds a probe result is reused: a burst of /healthz calls pings Redis once

# Redis away (refused, reset, timed out, loading, read-only replica...): waited out and retried, never fatal.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


class RedisUnavailable(RuntimeError):
    """Redis could not be reached (at start-up: the service refuses to start)."""


def connect(url: str) -> redis.Redis:
    """One client (a connection pool) for the life of the backend, with timeouts and a few quick
    retries on a dropped connection (a restarted Redis leaves dead pooled connections behind), instead
    of a new client per operation. A timeout is not retried here: the worker's back-off handles it."""
    client = redis.Redis.from_url(
        url, decode_responses=True, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 3, supported_errors=(redis.ConnectionError,)),
        retry_on_error=[redis.ConnectionError])
    try:
        client.ping()
    except TRANSIENT_ERRORS as exc:
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


class HealthProbe:
    """Is Redis reachable now? A PING on a client of its own, with PROBE_TIMEOUT and no retries, so that
    /healthz answers within about a second while Redis is down or paused (the backend's client waits
    longer); the answer is reused for PROBE_CACHE seconds. The error names its kind only: /healthz is
    public, and the server's address stays in the log."""

    def __init__(self, client: redis.Redis, cache: float = PROBE_CACHE):
        pool = client.connection_pool
        kwargs = {**pool.connection_kwargs, "socket_timeout": PROBE_TIMEOUT, "socket_connect_timeout": PROBE_TIMEOUT,
                  "retry": Retry(NoBackoff(), 0), "health_check_interval": 0}
        self.client = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class,
                                                                       **kwargs))
        self.cache = cache
        self._lock = threading.Lock()
        self._checked_at = -float("inf")
        self._last: dict = {}

    def __call__(self) -> dict:
        with self._lock:  # concurrent /healthz calls share one ping
            if time.monotonic() - self._checked_at >= self.cache:
                self._last = self._ping()
                self._checked_at = time.monotonic()
            return dict(self._last)

    def _ping(self) -> dict:
        try:
            self.client.ping()
        except TRANSIENT_ERRORS as exc:
            if self._last.get("ok", True):
                log.warning("task queue: Redis unreachable (%s)", exc)
            kind = "did not answer in time" if isinstance(exc, (redis.TimeoutError, TimeoutError)) else "unreachable"
            return {"backend": "redis", "ok": False, "error": f"Redis {kind} ({type(exc).__name__})"}
        if self._last.get("ok") is False:
            log.warning("task queue: Redis reachable again")
        return {"backend": "redis", "ok": True}
