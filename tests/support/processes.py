"""Server subprocesses for tests: a port nobody else can take, waiting until /healthz answers, stopping
cleanly.

Servers are started with `--port 0`: the kernel gives the listening socket a free port at bind time
and uvicorn reports it ("Uvicorn running on http://127.0.0.1:PORT"), which `wait_listening` reads from
the server's log. A port chosen first and bound later (`free_port`) can be taken in between by any
other process on a shared machine; then the server fails to start, or the tests talk to a stranger.
"""
from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

import httpx

_LISTENING = re.compile(r"Uvicorn running on https?://\S+?:(\d+) ")


def free_port() -> int:
    """A port free right now, for what must NOT be listening (an unreachable address); a server under
    test binds port 0 instead (see the module docstring)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_tail(log_path: Path, chars: int = 3000) -> str:
    return Path(log_path).read_text(errors="replace")[-chars:]


def log_size(log_path: Path) -> int:
    """Where this start's lines begin in a log that earlier starts of the same server appended to."""
    return Path(log_path).stat().st_size if Path(log_path).exists() else 0


def wait_listening(proc: subprocess.Popen, log_path: Path, offset: int = 0, timeout: float = 60.0) -> int:
    """The port a server started with `--port 0` bound, from uvicorn's start-up line in its log (read
    from `offset`); raise with the log's tail if the process dies or never says."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log_path, "rb") as log:
            log.seek(offset)
            found = _LISTENING.search(log.read().decode(errors="replace"))
        if found:
            return int(found.group(1))
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log_tail(log_path)}")
        time.sleep(0.05)
    raise RuntimeError(f"server did not start listening within {timeout}s: {log_tail(log_path)}")


def wait_healthy(proc: subprocess.Popen, url: str, log_path: Path, timeout: float = 60.0) -> None:
    """Return once `url/healthz` answers 200; raise with the log's tail if the process dies or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log_tail(log_path)}")
        try:
            if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not answer within {timeout}s: {log_tail(log_path)}")


def stop(proc: subprocess.Popen | None, timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
