"""Against the real server (`python3 api_ms.py`, uvicorn, a subprocess): the API key reaches no log,
whatever way it came."""
from __future__ import annotations

import secrets
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
    args = [*NO_WEIGHTS, "--no-load-models", "--api-key", SECRET]
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

