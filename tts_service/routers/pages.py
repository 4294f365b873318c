"""The admin page: / (routers/api_v1.py) and /manager redirect to /index, which serves index.html."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..security import COOKIE, keys_match, presented_key

router = APIRouter(tags=["页面"])
INDEX_HTML = Path(__file__).resolve().parent.parent.parent / "index.html"
KEY_PARAM = "api_key"


def root() -> RedirectResponse:
    """GET / without synthesis parameters (the route is api_v1's: with them, / is api.py's synthesis)."""
    return RedirectResponse("/index", status_code=307)


@router.get("/manager", summary="跳转到管理页")
def manager() -> RedirectResponse:
    return RedirectResponse("/index", status_code=307)


def _page() -> HTMLResponse:
    try:
        html = INDEX_HTML.read_text(encoding="utf-8")
    except FileNotFoundError:
        html = "<h1>index.html not found</h1>"
    return HTMLResponse(html)


def _without_key(request: Request) -> RedirectResponse:
    """303 to /index with the other query parameters, so the key leaves the address bar and history."""
    rest = [(name, value) for name, value in request.query_params.multi_items() if name != KEY_PARAM]
    location = "/index" + ("?" + urlencode(rest) if rest else "")
    return RedirectResponse(location, status_code=303,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@router.get("/index", summary="管理页面", response_class=HTMLResponse,
            description="With an API key set, open it once as /index?api_key=KEY: the key is kept in an "
                        "HttpOnly cookie for the page's own requests, and the answer is a 303 to plain "
                        "/index. The page itself sets the cookie by GET /index with the key in X-API-Key.")
def index(request: Request) -> Response:
    response = _without_key(request) if KEY_PARAM in request.query_params else _page()
    key = request.app.state.settings.api_key
    # a key that came as a header or in the query (not the cookie itself) is kept in the cookie
    if key and keys_match(presented_key(request.scope, cookie=False), key):
        response.set_cookie(COOKIE, key, httponly=True, samesite="strict")
    return response
