"""The admin page: / and /manager redirect to /index, which serves index.html."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ..security import COOKIE, presented_key

router = APIRouter(tags=["页面"])
INDEX_HTML = Path(__file__).resolve().parent.parent.parent / "index.html"


@router.get("/", summary="跳转到管理页", include_in_schema=True)
def root() -> RedirectResponse:
    return RedirectResponse("/index", status_code=307)


@router.get("/manager", summary="跳转到管理页")
def manager() -> RedirectResponse:
    return RedirectResponse("/index", status_code=307)


@router.get("/index", summary="管理页面", response_class=HTMLResponse,
            description="With an API key set, open it once as /index?api_key=KEY: the key is kept in an "
                        "HttpOnly cookie for the page's own requests.")
def index(request: Request) -> HTMLResponse:
    try:
        html = INDEX_HTML.read_text(encoding="utf-8")
    except FileNotFoundError:
        html = "<h1>index.html not found</h1>"
    response = HTMLResponse(html)
    key = request.app.state.settings.api_key
    if key and request.query_params.get("api_key") and presented_key(request.scope) == key:
        response.set_cookie(COOKIE, key, httponly=True, samesite="strict")
    return response
