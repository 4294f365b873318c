"""Against the real server (`python3 api_ms.py`, uvicorn, a subprocess): the API key reaches no log,
whatever way it came, and a request body trickling in one byte at a time is cut off by --body-timeout
(408, then the connection closed)."""
from __future__ import annotations

import secrets
import select
import socket
import time
from pathlib import Path

import httpx
import pytest

from support.real_server import RealServer

pytestmark = pytest.mark.server

SECRET = "k3y-" + secrets.token_hex(8)  # unique, so that finding it nowhere means something
NO_WEIGHTS = [item for name in ("gpt-path", "sovits-path", "cnhubert-base-path", "bert-path", "sv-path")
              for item in (f"--{name}", f"/nonexistent/{name}")]
DEADLINE = 60.0  # seconds to wait for log lines or a cut-off (generous: not a timing check)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("guards") / "data"
    args = [*NO_WEIGHTS, "--no-load-models", "--api-key", SECRET, "--body-timeout", "1"]
    with RealServer(data_dir, args) as running:
        yield running


def _poll(condition, what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"not within {DEADLINE}s: {what}")
        time.sleep(0.1)


def _access_lines(server: RealServer) -> list[str]:
    log = server.data_dir / "Logs" / "access.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def test_the_key_reaches_no_log(server):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        page = client.get(f"/index?api_key={SECRET}", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/index"
        assert SECRET in page.headers["set-cookie"]
        client.cookies.clear()
        sent = 1
        for path in ("/voice-models", "/voice-categories", "/healthz", "/nothing-here", "/docs", "/v1/models", "/"):
            client.get(path, params={"api_key": SECRET}, follow_redirects=False)
            sent += 1
        # %61pi_key is read as api_key too; the last is a near-miss, as secret as the key
        for query in (f"%61pi_key={SECRET}", f"x=1&api_key={SECRET}&y=2", f"api_key={SECRET}x"):
            client.get(f"/voice-models?{query}")
            sent += 1
        for headers in ({"Authorization": f"Bearer {SECRET}"}, {"X-API-Key": SECRET},
                        {"Cookie": f"tts_api_key={SECRET}"}):
            assert client.get("/voice-categories", headers=headers).json()["code"] == 0
            sent += 1
    # uvicorn writes its line before answering, the service's access log just after: wait for both
    masked = sent - 3  # all but the three with the key in a header or the cookie
    _poll(lambda: Path(server.log_path).read_text(errors="replace").count("_key=[REDACTED]") >= masked,
          "uvicorn's access lines, masked")
    _poll(lambda: len(_access_lines(server)) >= sent, "the service's access log lines")
    output = Path(server.log_path).read_text(errors="replace")
    assert 'GET /index?api_key=[REDACTED] HTTP/1.1" 303' in output
    assert SECRET not in output
    logs = [p for p in (server.data_dir / "Logs").rglob("*") if p.is_file()]
    assert logs
    for log in logs:
        assert SECRET not in log.read_text(errors="replace"), log


def _trickle(port: int, head: bytes) -> tuple[bytes, bool]:
    """Send `head`, then a body one byte at a time until the server answers and closes the connection
    (or DEADLINE passes). Returns what came back and whether the server closed the connection."""
    reply, closed = b"", False
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head)
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            readable, _, _ = select.select([sock], [], [], 0.25)  # also the pace of the trickle
            if readable:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    closed = True
                    break
                reply += chunk
            elif b"\r\n\r\n" not in reply:  # until the answer has come, the next byte of the body
                try:
                    sock.sendall(b"x")
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
    return reply, closed


def _head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             "Content-Length: 100000", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_body_sent_one_byte_at_a_time_is_cut_off(server):
    reply, closed = _trickle(server.port, _head("/voice-categories", f"X-API-Key: {SECRET}"))
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert b"connection: close" in reply.lower() and b'"code":3' in reply.replace(b" ", b"")
    assert closed, "the server kept the connection open"
