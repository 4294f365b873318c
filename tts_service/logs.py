"""Logging: the server's own log to stderr, and the access log (one line per request) in the data
dir's Logs/access.log, rotated every 6 hours and kept 7 days (28 files), the seed's policy.

No API key reaches a log: every formatter here, and those given to uvicorn (`uvicorn_log_config`:
its access lines carry the query string), pass their finished text through `redact`.
"""
from __future__ import annotations

import copy
import logging
import re
import sys
import time
from logging.handlers import TimedRotatingFileHandler
from pathlib import Path
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter, DefaultFormatter

ROTATE_HOURS = 6
KEEP_FILES = 7 * 24 // ROTATE_HOURS

MASK = "[REDACTED]"
# Parameter names whose values are secrets, compared after percent-decoding and lower-casing (the
# server reads `%61pi_key=` as `api_key=` too): the query parameter and the admin page's cookie.
SECRET_NAMES = frozenset({"api_key", "tts_api_key"})
# name=value in a query string or a cookie header; the value runs to the next separator, generously
# (masking a little too much is harmless, stopping short would leak the rest of the key).
# A name starts at the text's start or after a separator: the lookbehind keeps the scan linear.
_PAIR = re.compile(r"(?:(?<=[\s?&;,\"'(\[])|^)([^\s?&;=\"'<>]+)=([^\s&#\x1b]*)")
_BEARER = re.compile(r"(?i)\b(bearer\s+)\S+")
_HEADER = re.compile(r"(?i)(x-api-key['\"]?\s*[:=,]\s*b?['\"]?)[^\s'\",]+")


def redact(text: str) -> str:
    """`text` with the value of every api_key / tts_api_key pair, Bearer token and X-API-Key masked."""
    def pair(match: re.Match) -> str:
        if unquote_plus(match.group(1)).lower() in SECRET_NAMES:
            return f"{match.group(1)}={MASK}"
        return match.group(0)

    text = _PAIR.sub(pair, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    return _HEADER.sub(lambda m: m.group(1) + MASK, text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingDefaultFormatter(DefaultFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingAccessFormatter(AccessFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def uvicorn_log_config() -> dict:
    """uvicorn's own logging set-up, with its formatters swapped for the redacting ones."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["default"]["()"] = RedactingDefaultFormatter
    config["formatters"]["access"]["()"] = RedactingAccessFormatter
    return config


def configure_server_log(level: int = logging.INFO) -> None:
    """`tts_service.*` messages to stderr, once per process."""
    root = logging.getLogger("tts_service")
    if not any(getattr(h, "_tts_stderr", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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
        handler.setFormatter(RedactingFormatter("%(asctime)s\t%(message)s"))
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
