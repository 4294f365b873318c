"""The admin page on a server with an API key: opened once as /index?api_key=KEY, the page keeps the
key in localStorage, takes it out of the address bar, sends it as X-API-Key, and its <img>/<audio>
loads work through the cookie the server sets (API_MS.md §1.4)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from admin_page_helpers import API_KEY, add_model_by_api

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_api_key_kept_and_media_load(servers, media, open_page):
    keyed = servers["keyed"]
    add_model_by_api(keyed.url, media, "keyed", "密钥音模", headers={"X-API-Key": API_KEY})
    page, _ = open_page(f"{keyed.url}/index?api_key={API_KEY}")
    row = page.locator('#model-rows tr[data-id="keyed"]')
    expect(row).to_be_visible()
    assert "api_key" not in page.url
    assert page.evaluate("localStorage.getItem('tts_api_key')") == API_KEY
    avatar = row.locator("img.avatar")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=avatar.element_handle())
    clip = row.locator("audio")
    clip.evaluate("a => { a.preload = 'metadata'; a.load(); }")
    page.wait_for_function("a => a.duration > 0", arg=clip.element_handle())

    # Every request the page makes carries the key as a header.
    with page.expect_request(lambda r: "/voice-models?" in r.url) as request:
        page.click("#list-refresh")
    assert request.value.headers.get("x-api-key") == API_KEY
