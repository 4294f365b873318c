"""API key, CORS, access log and settings."""
from __future__ import annotations

import hmac
import json
from pathlib import Path

import anyio
import httpx
import pytest
from service_helpers import assert_envelope, run_coroutine

from tts_service.app import create_app
from tts_service.settings import Settings, from_args, parse_duration


def test_api_key_guards_everything_but_healthz_and_the_page_shell(make_client):
    client = make_client(api_key="s3cret")
    assert client.get("/healthz").status_code == 200
    shell = client.get("/index")
    assert shell.status_code == 200 and "set-cookie" not in shell.headers  # the page asks for the key
    for path in ("/voice-models", "/voice-categories", "/docs", "/audio/x.png", "/output/x.wav"):
        assert_envelope(client.get(path), 3, 401)
    assert_envelope(client.get("/voice-models", headers={"X-API-Key": "wrong"}), 3, 401)
    assert client.get("/voice-models", headers={"Authorization": "Bearer s3cret"}).json()["code"] == 0
    assert client.get("/voice-models", headers={"X-API-Key": "s3cret"}).json()["code"] == 0


def test_index_with_the_key_sets_the_cookie_and_takes_the_key_out_of_the_url(make_client):
    """/index?api_key=KEY answers a 303 to plain /index (other parameters kept), so the key leaves the
    address bar and the history; the cookie it sets carries the key from then on."""
    client = make_client(api_key="s3cret")
    page = client.get("/index?api_key=s3cret&lang=zh", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/index?lang=zh"
    cookie = page.headers["set-cookie"].lower()
    assert "tts_api_key=s3cret" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert page.headers["cache-control"] == "no-store"
    assert client.get("/voice-categories").json()["code"] == 0  # the cookie now carries the key
    client.cookies.clear()
    wrong = client.get("/index?api_key=nope", follow_redirects=False)  # out of the URL too, no cookie
    assert wrong.status_code == 303 and wrong.headers["location"] == "/index" and "set-cookie" not in wrong.headers
    assert_envelope(client.get("/voice-categories"), 3, 401)
    # the page's own way when the key is typed in: GET /index with the key as a header
    by_header = client.get("/index", headers={"X-API-Key": "s3cret"})
    assert by_header.status_code == 200 and "tts_api_key=s3cret" in by_header.headers["set-cookie"]
    assert client.get("/voice-categories").json()["code"] == 0


def test_every_key_comparison_is_constant_time(make_client, monkeypatch):
    """The middleware and /index both compare through hmac.compare_digest, on bytes (never `==`)."""
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    client = make_client(api_key="s3cret")
    assert client.get("/voice-models", headers={"X-API-Key": "s3cret"}).json()["code"] == 0
    assert calls == [(b"s3cret", b"s3cret")]
    calls.clear()
    assert_envelope(client.get("/voice-models", headers={"X-API-Key": "s3creX"}), 3, 401)
    assert calls == [(b"s3creX", b"s3cret")]
    calls.clear()
    assert "set-cookie" in client.get("/index?api_key=s3cret", follow_redirects=False).headers
    assert calls == [(b"s3cret", b"s3cret")]
    calls.clear()
    assert "set-cookie" not in client.get("/index?api_key=s3creX", follow_redirects=False).headers
    assert calls == [(b"s3creX", b"s3cret")]


def test_a_body_not_received_in_time_gets_408(tmp_path):
    """The body's rest never comes: by --body-timeout the request is answered 408 in the envelope and
    the connection is to close (the guard against a hang is fail_after, not a timing assertion)."""
    app = create_app(Settings(data_dir=tmp_path / "data", load_models=False, body_timeout=0.5))

    async def stalled_body():
        yield b'{"category_id": "c1", '
        await anyio.Event().wait()  # the rest never comes

    async def post() -> httpx.Response:
        with anyio.fail_after(60):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
                return await client.post("/voice-categories", content=stalled_body(),
                                         headers={"Content-Type": "application/json"})

    response = run_coroutine(post())
    assert_envelope(response, 3, 408)
    assert response.headers["connection"] == "close"
    assert not json.loads((tmp_path / "data" / "voice_categories.json").read_text())



def test_api_key_leaves_the_page_assets_open_but_nothing_else(make_client):
    """/static/ holds only the admin page's stylesheet and scripts: they load before the page has the
    key. A path that climbs out of /static/ gets nothing, and data routes still need the key."""
    client = make_client(api_key="s3cret")
    assets = sorted((Path(__file__).resolve().parents[2] / "static" / "admin").iterdir())
    assert {p.suffix for p in assets} == {".css", ".js"}
    for asset in assets:
        response = client.get(f"/static/admin/{asset.name}")
        assert response.status_code == 200 and response.content == asset.read_bytes()
        kind = "javascript" if asset.suffix == ".js" else "css"
        assert kind in response.headers["content-type"]  # ES modules load only with a script MIME type
    assert_envelope(client.get("/static/admin/nothing.js"), 2, 404)
    for path in ("/static/%2e%2e/voice_categories.json", "/static/admin/%2e%2e/%2e%2e/tts_service/settings.py"):
        assert client.get(path).status_code == 404
    for path in ("/voice-models", "/voice-categories", "/audio/x.png", "/staticx/admin/main.js"):
        assert_envelope(client.get(path), 3, 401)
    assert client.post("/static/admin/main.js").status_code == 405  # read-only

def test_an_answer_given_before_the_body_was_read_closes_the_connection(make_client):
    """A 401 sent without reading the body says Connection: close, so that the rest of a (slow) body
    cannot keep the connection; answers to requests whose body was read keep it."""
    client = make_client(api_key="s3cret")
    refused = client.post("/voice-categories", content=b'{"category_id": "c1"}',
                          headers={"Content-Type": "application/json"})
    assert_envelope(refused, 3, 401)
    assert refused.headers["connection"] == "close"
    made = client.post("/voice-categories", json={"category_id": "c1", "category_name": "新闻"},
                       headers={"X-API-Key": "s3cret"})
    assert made.json()["code"] == 0 and "connection" not in made.headers
    assert "connection" not in client.get("/voice-categories", headers={"X-API-Key": "s3cret"}).headers


def test_cors(make_client):
    client = make_client(cors_origins=("https://example.org",))
    allowed = client.options("/voice-models", headers={"Origin": "https://example.org",
                                                       "Access-Control-Request-Method": "GET"})
    assert allowed.headers.get("access-control-allow-origin") == "https://example.org"
    other = client.get("/voice-models", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    closed = make_client().get("/voice-models", headers={"Origin": "https://example.org"})
    assert "access-control-allow-origin" not in closed.headers


def test_access_log_one_line_per_request(client, data_dir):
    client.get("/voice-models")
    client.get("/nothing-here")
    lines = (data_dir / "Logs" / "access.log").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    when, who, request, status, took = lines[1].split("\t")
    assert (who, request, status) == ("testclient", "GET /nothing-here", "404") and took.endswith("ms")


def test_settings_precedence(tmp_path):
    (tmp_path / "gweight.txt").write_text(str(tmp_path / "from_file.ckpt"))
    env = {"infer_api_port": "9000", "TTS_DATA_DIR": str(tmp_path), "sovits_path": str(tmp_path / "env.pth"),
           "TASK_RETENTION_SECONDS": "12h", "TTS_CORS_ORIGINS": "https://a.org, https://b.org"}
    settings = from_args(["--port", "9100", "--device-target", "CPU"], env)
    assert settings.port == 9100 and settings.data_dir == tmp_path
    assert settings.gpt_path.endswith("from_file.ckpt") and settings.sovits_path.endswith("env.pth")
    assert settings.task_retention == 12 * 3600 and settings.cors_origins == ("https://a.org", "https://b.org")
    assert from_args(["--gpt-path", "x.ckpt"], env).gpt_path.endswith("/x.ckpt")
    defaults = from_args([], {})
    assert (defaults.port, defaults.host, defaults.task_workers, defaults.task_max_attempts, defaults.redis_url) == \
        (9881, "0.0.0.0", 1, 3, None)
    with pytest.raises(SystemExit):
        from_args(["--device-target", "TPU"], {})


@pytest.mark.parametrize("text,seconds", [("604800", 604800), ("30m", 1800), ("1.5h", 5400), ("7d", 604800),
                                          ("0", 0), ("-1", -1), ("soon", 604800)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_protect_voice_list_setting():
    """Off by default; the flag or its variable (1/true/yes/on) turns it on."""
    assert not from_args([], {}).protect_voice_list
    assert from_args(["--protect-voice-list"], {}).protect_voice_list
    assert from_args([], {"TTS_PROTECT_VOICE_LIST": "true"}).protect_voice_list
    assert not from_args([], {"TTS_PROTECT_VOICE_LIST": "0"}).protect_voice_list
