"""Request guards: the optional API key, the request-body bound and the request-body deadline, as
plain ASGI middleware so that they cover every route, static files included, and answer in the envelope.

The key may come as `Authorization: Bearer <key>`, `X-API-Key: <key>`, the `api_key` query
parameter, or the `tts_api_key` cookie. Opening the admin page as `/index?api_key=<key>` sets
that cookie (HttpOnly, SameSite=Strict) and redirects to plain `/index`, so the key leaves the
address bar; the page's own requests and its <audio>/<img> loads then carry it without any script
handling it. Keys are only ever compared with `keys_match` (constant time).

Open without the key: /healthz, the page shell and its assets, and (unless `protect_voice_list`) the
OpenAI voice and model listings, which clients such as Open WebUI fetch without sending any key.
"""
from __future__ import annotations

import hmac
from urllib.parse import parse_qs

import anyio
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .envelope import BAD_PARAM, error_response

COOKIE = "tts_api_key"
# /healthz and /ping for monitors; /index is the admin page's static shell (no data in it), open so
# that it can ask the user for the key itself, and so are its stylesheet and scripts under /static/.
# Everything else it loads (records, avatars, clips, audio) needs the key.
OPEN_PATHS = ("/healthz", "/ping", "/index")
OPEN_PREFIX = "/static/"
# The voice and model listings: Open WebUI fetches them with no key at all to fill its pickers. Open unless
# `protect_voice_list`; what they show a request without the key is ids and names only (routers/openai.py).
LISTING_PATHS = ("/v1/audio/voices", "/v1/audio/models")


def is_open(path: str, protect_voice_list: bool = False) -> bool:
    if path in LISTING_PATHS:
        return not protect_voice_list
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIX)


def holds_key(scope: Scope, api_key: str | None) -> bool:
    """Whether a request to an open path may see everything: no key is set, or it carries the key."""
    return not api_key or keys_match(presented_key(scope), api_key)


def keys_match(presented: str | None, expected: str) -> bool:
    """Constant time, so that how long a refusal takes says nothing about how much of the key was right."""
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def presented_key(scope: Scope, cookie: bool = True) -> str | None:
    """The key the request carries (header, then query, then, unless `cookie` is False, the cookie)."""
    headers = Headers(scope=scope)
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if headers.get("x-api-key"):
        return headers["x-api-key"].strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("api_key"):
        return query["api_key"][0]
    return cookie_parser(headers.get("cookie", "")).get(COOKIE) if cookie else None


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, api_key: str, protect_voice_list: bool = False):
        self.app, self.api_key, self.protect_voice_list = app, api_key, protect_voice_list

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or is_open(scope["path"], self.protect_voice_list)
                or scope["method"] == "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if not keys_match(presented_key(scope), self.api_key):
            response = error_response(BAD_PARAM, "API key 无效或缺失", 401, headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 in the envelope for bodies over `limit` bytes: by Content-Length, or while streaming.

    A stream that goes over is cut off as if the client had gone away; whatever the app then
    answers is dropped and replaced by the 413.
    """

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = error_response(BAD_PARAM, f"请求体过大（上限 {self.limit / 1048576:g} MB）", 413)
        length = Headers(scope=scope).get("content-length")
        if length and length.isdigit() and int(length) > self.limit:
            await too_large(scope, receive, send)
            return
        received, over = 0, False

        async def counted_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > self.limit:
                    over = True
                    return {"type": "http.disconnect"}
            return msg

        async def guarded_send(msg: Message) -> None:
            if not over:
                await send(msg)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over:
            await too_large(scope, receive, send)


CLOSE_HEADER = (b"connection", b"close")


def announces_body(scope: Scope) -> bool:
    """Whether the request says a body follows (a length above 0, or chunked)."""
    headers = Headers(scope=scope)
    if "transfer-encoding" in headers:
        return True
    return headers.get("content-length", "0").strip() not in ("", "0")


class BodyTimeoutMiddleware:
    """408 in the envelope when the request body has not all arrived `seconds` after the request did.

    uvicorn has no such deadline: a client sending one byte a second would hold its connection, and
    the handler waiting for the body, for as long as it liked. Each wait in `receive()` gets what is
    left of the budget; once it is spent the app is told the client has gone, and whatever it answers
    is replaced by the 408 (if it had already started answering, the answer is cut short instead and
    uvicorn closes the connection). Every answer given while the body is still arriving (this 408, a
    401, a 413) says `Connection: close`, so the rest of a slow body cannot hold the connection either.
    `seconds <= 0` turns the deadline off (the `Connection: close` rule stays).
    """

    def __init__(self, app: ASGIApp, seconds: float):
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = anyio.current_time() + self.seconds
        body_done, timed_out, started = not announces_body(scope), False, False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if timed_out:
                return {"type": "http.disconnect"}
            if body_done or self.seconds <= 0:
                message = await receive()
            else:
                with anyio.move_on_after(deadline - anyio.current_time()) as wait:
                    message = await receive()
                if wait.cancelled_caught:
                    timed_out = True
                    return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if timed_out:
                return  # the app's answer to a client it was told had gone
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                if not body_done and not any(name.lower() == b"connection" for name, _ in headers):
                    message = {**message, "headers": [*headers, CLOSE_HEADER]}
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            if not timed_out:
                raise
        if timed_out and not started:
            too_slow = error_response(BAD_PARAM, f"请求体接收超时（{self.seconds:g} 秒内未收完）", 408,
                                      headers={"Connection": "close"})
            await too_slow(scope, receive, send)
