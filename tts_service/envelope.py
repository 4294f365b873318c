"""The response envelope {code, message, data}, the business codes, and the handlers that make
every error (validation, malformed JSON, 404/405, a synthesis that fails, crashes) answer in it.

The business code says what kind of outcome it is; the HTTP status says the same to proxies and
generic clients: 200 only for success.
"""
from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from GPT_SoVITS.pipeline import (BusyError, CancelledError, InputError, ReferenceClipError, SynthesisError,
                                 WeightsMissingError)

log = logging.getLogger("tts_service")

OK = 0  # success
FAILED = 1  # the operation failed (synthesis, model loading, server fault)
RESOURCE = 2  # the resource does not exist, or already exists
BAD_PARAM = 3  # a parameter is missing or invalid
BUSY = 4  # the service is at capacity (HTTP 429/503 with Retry-After): the same request may succeed later

_DEFAULT_STATUS = {FAILED: 500, RESOURCE: 404, BAD_PARAM: 400, BUSY: 503}


class ApiError(Exception):
    """Raise anywhere in a request: becomes {code, message, data} with `http_status`."""

    def __init__(self, code: int, message: str, http_status: int | None = None, data: Any = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status or _DEFAULT_STATUS.get(code, 500)
        self.data = {} if data is None else data
        self.headers = headers


def busy(message: str, http_status: int, retry_after: float) -> ApiError:
    """At capacity: code BUSY, HTTP 429 (this client sent too much) or 503 (the server is full), and
    `Retry-After` in whole seconds, also in data for clients that only read the body."""
    seconds = max(1, math.ceil(retry_after))
    return ApiError(BUSY, message, http_status, {"retry_after": seconds}, {"Retry-After": str(seconds)})


def body(code: int, message: str = "", data: Any = None) -> dict:
    return {"code": code, "message": message, "data": {} if data is None else data}


def ok(data: Any = None, message: str = "") -> dict:
    return body(OK, message, data)


def paged(items: list, total: int, page: int, page_size: int) -> dict:
    return ok({"total": total, "pageIndex": page, "pageSize": page_size, "data": items})


def error_response(code: int, message: str, http_status: int, data: Any = None,
                   headers: dict | None = None) -> JSONResponse:
    return JSONResponse(body(code, message, data), status_code=http_status, headers=headers)


def _describe(errors: list[dict]) -> str:
    """`参数错误: body.top_k: Input should be a valid integer` for the first few problems."""
    parts = []
    for err in errors[:3]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",)) or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "参数错误: " + "; ".join(parts)


async def _on_api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.code, exc.message, exc.http_status, exc.data, exc.headers)


async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(BAD_PARAM, "请求体不是合法的 JSON", 400)
    # Keep only what a client can use: where and what (pydantic's `input`/`ctx` may echo big values).
    details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in errors]
    return error_response(BAD_PARAM, _describe(errors), 422, {"errors": details})


_HTTP_CODES = {404: (RESOURCE, "资源不存在"), 405: (BAD_PARAM, "请求方法不允许"),
               413: (BAD_PARAM, "请求体过大"), 401: (BAD_PARAM, "API key 无效或缺失")}


async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code, message = _HTTP_CODES.get(exc.status_code, (BAD_PARAM if exc.status_code < 500 else FAILED, ""))
    detail = exc.detail if isinstance(exc.detail, str) else ""
    if exc.status_code not in _HTTP_CODES and detail:
        message = detail
    return error_response(code, message or detail or "请求失败", exc.status_code,
                          headers=getattr(exc, "headers", None))


BUSY_RETRY_AFTER = 5.0  # seconds: segments in the batch finish within seconds
INVALID_INPUT = "invalid_input"  # data.code of a request the pipeline cannot synthesise as given


def synthesis_failure(exc: SynthesisError) -> ApiError:
    """A pipeline error as the envelope: missing weights 503, bad input code 3 (data names the field: the
    clip or the text), at capacity 503 code 4 with Retry-After, cancelled 409, others code 1."""
    if isinstance(exc, WeightsMissingError):
        return ApiError(FAILED, str(exc), 503)
    if isinstance(exc, BusyError):
        return busy(str(exc), 503, BUSY_RETRY_AFTER)
    if isinstance(exc, InputError):
        field = "ref_wav_path" if isinstance(exc, ReferenceClipError) else "text"
        return ApiError(BAD_PARAM, str(exc), 400, {"param": field, "code": INVALID_INPUT})
    if isinstance(exc, CancelledError):
        return ApiError(FAILED, str(exc) or "已取消", 409)
    return ApiError(FAILED, str(exc) or "合成失败", 500)


async def _on_synthesis_error(request: Request, exc: SynthesisError) -> JSONResponse:
    return await _on_api_error(request, synthesis_failure(exc))


async def _on_crash(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(FAILED, "服务器内部错误", 500)


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(SynthesisError, _on_synthesis_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_crash)
