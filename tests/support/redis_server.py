"""A real redis-server for tests: on a free port in a temp dir, without persistence, that a test can stop
and start again (it comes back empty, like a Redis without persistence after a restart) or pause
(SIGSTOP: connections are accepted, nothing answers) and resume.

Without redis-server the tests are skipped locally, and fail on CI (CI=true), where tests/run.sh installs it.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import redis

from support.processes import free_port
from support.tasks import wait_until


def require_redis_server() -> None:
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed (apt-get install redis-server; tests/run.sh does it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


class RedisServer:
    def __init__(self, folder: Path):
        require_redis_server()
        self.folder, self.port = Path(folder), free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self.paused = False

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)
        wait_until(lambda: self._pings(client), timeout=10)
        return self

    def _pings(self, client: redis.Redis) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.proc.returncode} (port {self.port} taken?)")
        try:
            return bool(client.ping())
        except redis.RedisError:
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
