"""The admin page on a server with an API key (API_MS.md §1.4). Opened once as /index?api_key=KEY, the
server keeps the key in an HttpOnly cookie and redirects to plain /index, so the key leaves the address
bar; the page's requests and its <img>/<audio> loads then carry it through that cookie. A key typed into
the page's dialog is set in the cookie without ever going into a URL."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from admin_page_helpers import API_KEY, add_model_by_api

pytestmark = [pytest.mark.browser, pytest.mark.server]


def _media_load(page, row) -> None:
    avatar = row.locator("img.avatar")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=avatar.element_handle())
    clip = row.locator("audio")
    clip.evaluate("a => { a.preload = 'metadata'; a.load(); }")
    page.wait_for_function("a => a.duration > 0", arg=clip.element_handle())


def test_api_key_in_the_url_goes_to_the_cookie_and_media_load(servers, media, open_page):
    keyed = servers["keyed"]
    add_model_by_api(keyed.url, media, "keyed", "密钥音模", headers={"X-API-Key": API_KEY})
    page, _ = open_page(f"{keyed.url}/index?api_key={API_KEY}")
    row = page.locator('#model-rows tr[data-id="keyed"]')
    expect(row).to_be_visible()
    assert page.url == f"{keyed.url}/index"  # the server's redirect took the key out
    assert page.evaluate("localStorage.getItem('tts_api_key')") is None  # the page never saw the key
    _media_load(page, row)

    # Every request the page makes carries the key in the cookie, none in its URL.
    with page.expect_request(lambda r: "/voice-models?" in r.url) as request:
        page.click("#list-refresh")
    assert f"tts_api_key={API_KEY}" in request.value.all_headers().get("cookie", "")
    assert API_KEY not in request.value.url


def test_a_typed_key_is_set_in_the_cookie_without_a_url(servers, media, open_page):
    keyed = servers["keyed"]
    add_model_by_api(keyed.url, media, "typed", "输入密钥", headers={"X-API-Key": API_KEY})
    page, _ = open_page(f"{keyed.url}/index")
    urls: list[str] = []
    page.context.on("request", lambda r: urls.append(r.url))
    expect(page.locator("#modal")).to_be_visible()  # the page asks for the key
    page.locator("#modal-body input").fill(API_KEY)
    page.click("#modal-ok")
    row = page.locator('#model-rows tr[data-id="typed"]')
    expect(row).to_be_visible()  # after the reload, through the cookie
    _media_load(page, row)
    assert page.url == f"{keyed.url}/index"
    assert urls and not [url for url in urls if API_KEY in url or "api_key" in url]
    assert page.evaluate("localStorage.getItem('tts_api_key')") == API_KEY  # kept for the next visit
