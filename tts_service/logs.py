"""Logging: the server's own log to stderr, and the access log (one line per request) in the data
dir's Logs/access.log, rotated every 6 hours and kept 7 days (28 files), the seed's policy.
"""
from __future__ import annotations

import logging
import sys
import time
from logging.handlers import TimedRotatingFileHandler
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ROTATE_HOURS = 6
KEEP_FILES = 7 * 24 // ROTATE_HOURS


def configure_server_log(level: int = logging.INFO) -> None:
    """`tts_service.*` messages to stderr, once per process."""
    root = logging.getLogger("tts_service")
    if not any(getattr(h, "_tts_stderr", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._tts_stderr = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    # Not also through the root logger: a dependency (split_lang's LangSplitter) calls
    # logging.basicConfig, which would print every line a second time in its own format.
    root.propagate = False


def access_logger(logs_dir: Path) -> logging.Logger:
    """A logger of its own per data dir (tests build many apps): tab-separated lines, no propagation."""
    logger = logging.getLogger(f"tts_service.access.{logs_dir}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        logs_dir.mkdir(parents=True, exist_ok=True)
        handler = TimedRotatingFileHandler(logs_dir / "access.log", when="H", interval=ROTATE_HOURS,
                                           backupCount=KEEP_FILES, encoding="utf-8", delay=True)
        handler.setFormatter(logging.Formatter("%(asctime)s\t%(message)s"))
        logger.addHandler(handler)
    return logger


class AccessLogMiddleware:
    """Outermost layer: times every request, whatever answered it (errors and refusals included)."""

    def __init__(self, app: ASGIApp, logger: logging.Logger):
        self.app, self.logger = app, logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            client = (scope.get("client") or ("-", 0))[0]
            millis = int((time.perf_counter() - start) * 1000)
            self.logger.info("%s\t%s %s\t%d\t%dms", client, scope["method"], scope["path"], status, millis)
