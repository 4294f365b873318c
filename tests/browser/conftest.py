"""Fixtures for the admin-page tests: Debian's Chromium driven by Playwright, the real servers as
subprocesses on free ports, real media (a PNG, espeak-ng speech cut to length with sox), and a
screenshot folder (tests/artifacts/, which ignores itself).

Chromium is never downloaded: without /usr/bin/chromium (or the playwright package, espeak-ng, sox)
the tests skip with the reason, or fail where the run must not skip (CI, TESTS_NO_SKIP=1, --no-skip:
support/required.py).
"""
from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from admin_page_helpers import API_KEY, ApiServer
from support.required import missing, need_tool
from support.task_server import ServerProcess

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
SPEECH = "今天天气真不错，我们一起去公园散步吧。欢迎使用语音合成服务，祝你有美好的一天。"


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        missing(f"Chromium at {CHROMIUM}", "apt-get install chromium (bash tests/run.sh installs it, as root or with sudo)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package", "pip install -r requirements.txt (bash tests/run.sh does it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    """Three servers started together (their start-ups overlap): the real one without weights, the
    real one with an API key, and the task test server whose stand-in engine makes 4 slow segments."""
    root = tmp_path_factory.mktemp("servers")
    real = ApiServer(root / "real")
    keyed = ApiServer(root / "keyed", "--api-key", API_KEY)
    fake = ServerProcess(root / "fake", segments=4, delay=1.0)
    try:
        fake.start()
        yield {"real": real.wait(), "keyed": keyed.wait(), "fake": fake}
    finally:
        for server in (real, keyed, fake):
            server.stop()


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, Path]:
    """avatar.png, a 5 s speech clip and a 2 s one (too short for the 3-10 s rule)."""
    for tool in ("espeak-ng", "sox"):
        need_tool(tool)
    from PIL import Image

    folder = tmp_path_factory.mktemp("media")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (46, 123, 207)).save(buffer, format="PNG")
    (folder / "avatar.png").write_bytes(buffer.getvalue())
    speech = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "zh", "-w", str(speech), SPEECH], check=True, capture_output=True)
    made = {"avatar": folder / "avatar.png"}
    for name, seconds in (("clip", 5.0), ("short", 2.0)):
        made[name] = folder / f"{name}.wav"
        subprocess.run(["sox", str(speech), str(made[name]), "pad", "0", "12", "trim", "0", str(seconds)],
                       check=True, capture_output=True)
    return made


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")  # the folder ignores itself: nothing here is committed
    return ARTIFACTS


@pytest.fixture
def open_page(chromium):
    """open_page(url, **context options) -> (page, dialogs): dialogs records every alert/confirm,
    and confirms are accepted."""
    contexts = []

    def open_(url: str, **options):
        context = chromium.new_context(accept_downloads=True, locale="zh-CN", **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        dialogs: list[tuple[str, str]] = []

        def on_dialog(dialog):
            dialogs.append((dialog.type, dialog.message))
            dialog.accept()

        page.on("dialog", on_dialog)
        page.goto(url)
        return page, dialogs

    yield open_
    for context in contexts:
        context.close()
