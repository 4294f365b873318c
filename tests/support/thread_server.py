"""An app served by uvicorn in a thread of the test process, on 127.0.0.1 and a port of its own: for tests
that need a real socket (streaming, clients replayed byte for byte) with a test-double engine."""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator

import uvicorn


@contextlib.contextmanager
def serve(app) -> Iterator[str]:
    """Yields the server's base URL, e.g. http://127.0.0.1:41234; stops the server on exit."""
    # port 0: the socket gets a free port when it binds, so no other process can take it first
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
