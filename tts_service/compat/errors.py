"""Errors on the reference's routes, answered the way the reference answers them.

api_v2.py answers `{"message": ...}` (plus `"Exception"` when the pipeline or a weight file failed)
with HTTP 400; api.py answers `{"code": 400, "message": ...}`. Clients only look at the status and
print the body, so the service's envelope `{code, message, data}` does not apply here. A request the
client got wrong is always 400, as in the reference; the server's own state keeps its status, so
that a client (or a proxy) can tell "retry later" from "fix the request": busy 503 with
Retry-After, weights missing 503, a failure inside the server 500. Never a stack trace.
"""
from __future__ import annotations

import functools
from typing import Awaitable, Callable

from fastapi.responses import JSONResponse
from pydantic import ValidationError

from GPT_SoVITS.pipeline import SynthesisError

from ..envelope import BAD_PARAM, ApiError, synthesis_failure

EXCEPTION = "exception"  # key in ApiError.data: the detail api_v2 sends as "Exception"
# Statuses passed on as they are: a missing key, a refused /control, too much, and the server's state.
_KEPT = {401, 403, 413, 429}


def bad(message: str, exception: str | None = None) -> ApiError:
    """A request error (400); `exception`: the underlying failure, sent as api_v2's "Exception"."""
    return ApiError(BAD_PARAM, message, 400, {EXCEPTION: exception} if exception else None)


def first_problem(exc: ValidationError, names: dict[str, str] | None = None) -> str:
    """`top_k: Input should be a valid integer`, naming the field as the client spelt it."""
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error.get("loc", ()) if not isinstance(p, int)) or "body"
    field = (names or {}).get(field, field)
    return f"{field}: {error.get('msg', 'invalid').removeprefix('Value error, ')}"


def failed(exc: SynthesisError) -> ApiError:
    """The pipeline's error as the reference reports it: the envelope's status and message (400 for the
    request's fault), with the failure itself as api_v2's "Exception"."""
    error = synthesis_failure(exc)
    error.data = {EXCEPTION: str(exc)}
    return error


def status_of(exc: ApiError) -> int:
    if exc.http_status >= 500 or exc.http_status in _KEPT:
        return exc.http_status
    return 400


def v2_body(exc: ApiError) -> dict:
    body = {"message": exc.message}
    detail = exc.data.get(EXCEPTION) if isinstance(exc.data, dict) else None
    if detail:
        body["Exception"] = detail
    return body


def v1_body(exc: ApiError) -> dict:
    return {"code": 400, "message": exc.message}


Route = Callable[..., Awaitable]


def answered_as(shape: Callable[[ApiError], dict]) -> Callable[[Route], Route]:
    """Route decorator: an ApiError, a pipeline error or a validation error raised inside becomes the
    reference's answer. FastAPI reads the route's parameters through `functools.wraps`, so dependencies
    still work."""
    def wrap(route: Route) -> Route:
        @functools.wraps(route)
        async def answering(*args, **kwargs):
            try:
                return await route(*args, **kwargs)
            except ValidationError as exc:
                error = bad(first_problem(exc))
            except SynthesisError as exc:
                error = failed(exc)
            except ApiError as exc:
                error = exc
            return JSONResponse(shape(error), status_code=status_of(error), headers=error.headers)
        return answering
    return wrap


answered_as_v2 = answered_as(v2_body)
answered_as_v1 = answered_as(v1_body)
