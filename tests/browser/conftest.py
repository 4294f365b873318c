"""Fixtures for the admin-page tests: Debian's Chromium driven by Playwright, the real servers as
subprocesses on free ports, real media (a PNG, espeak-ng speech cut to length with sox), and a
screenshot folder (tests/artifacts/, which ignores itself).

Chromium is never downloaded: without /usr/bin/chromium (or the playwright package) the tests skip
with the reason, except on CI (`CI=true`), where that is a failure.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support.task_server import ServerProcess, free_port

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
SPEECH = "今天天气真不错，我们一起去公园散步吧。欢迎使用语音合成服务，祝你有美好的一天。"
API_KEY = "browser-test-key"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must run the browser tests (tests/run.sh installs chromium)")
    pytest.skip(reason)


class ApiServer:
    """`python3 api_ms.py` on 127.0.0.1 with its own data dir and weight paths that do not exist."""

    def __init__(self, data_dir: Path, *extra: str):
        self.data_dir, self.port = data_dir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        nowhere = data_dir.parent / "no-weights"
        flags = [f"--{name}" for name in ("gpt-path", "sovits-path", "cnhubert-base-path", "bert-path", "sv-path")]
        weights = [item for flag in flags for item in (flag, str(nowhere / flag.strip("-")))]
        self.log_path = data_dir.parent / f"api-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TTS_")} | {"GLOG_v": "3"}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "api_ms.py", "--host", "127.0.0.1", "--port", str(self.port),
                 "--data-dir", str(data_dir), *weights, *extra],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)

    def wait(self, timeout: float = 60.0) -> "ApiServer":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer in {timeout}s: {self.log_path.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -r requirements.txt)")
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
    fake = ServerProcess(root / "fake", segments=4, delay=0.6)
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
        if shutil.which(tool) is None:
            _unavailable(f"{tool} is not installed (tests/run.sh installs it)")
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
