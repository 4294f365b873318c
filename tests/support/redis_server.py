"""A real redis-server for tests: on a free port in a temp dir, without persistence, that a test can stop
and start again (it comes back empty, like a Redis without persistence after a restart) or pause
(SIGSTOP: connections are accepted, nothing answers) and resume.

A port free a moment ago may be taken by another process before redis-server binds it: ours then exits
and another port is tried, and whoever answers must prove to be ours by its working dir. Without
redis-server the tests skip, or fail where the run must not skip (support/required.py); tests/run.sh
installs it.
"""
from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import redis

from support.processes import free_port
from support.required import need_tool
from support.tasks import wait_until

PORT_TRIES = 5


class RedisServer:
    def __init__(self, folder: Path):
        self.executable = need_tool("redis-server")
        self.folder = Path(folder)
        self.port: int | None = None  # chosen by the first start; restarts keep it (clients know it)
        self.proc: subprocess.Popen | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        for _ in range(PORT_TRIES if self.port is None else 1):
            port = self.port or free_port()
            self.proc = subprocess.Popen(
                [self.executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            client = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1, socket_timeout=1,
                                          decode_responses=True)
            wait_until(lambda: self.proc.poll() is not None or self._is_ours(client), timeout=10)
            if self.proc.poll() is None:
                self.port = port
                return self
        raise RuntimeError(f"redis-server did not start (port {self.port or 'each free port tried'} taken?)")

    def _is_ours(self, client: redis.Redis) -> bool:
        try:
            return Path(client.config_get("dir")["dir"]).resolve() == self.folder.resolve()
        except redis.RedisError:  # not up yet, or a stranger that refuses CONFIG
            return False

    def stop(self) -> None:
        """Gone (SIGTERM, waited for): connections are refused until `start`, which comes back empty."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.resume()
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def pause(self) -> None:
        """Frozen (SIGSTOP): a client connects (the kernel accepts) but waits for answers in vain."""
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.proc.send_signal(signal.SIGCONT)
            self.paused = False
