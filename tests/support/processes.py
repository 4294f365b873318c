"""Server subprocesses for tests: a free port, waiting until /healthz answers, stopping cleanly."""
from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_tail(log_path: Path, chars: int = 3000) -> str:
    return Path(log_path).read_text(errors="replace")[-chars:]


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
