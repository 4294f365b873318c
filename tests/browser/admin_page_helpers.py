"""Helpers of the admin-page tests: the real server as a subprocess, and voice models made through
the API (faster than through the page, for the models a test only needs to exist)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from support.processes import stop, wait_healthy, wait_listening

REPO = Path(__file__).resolve().parents[2]
API_KEY = "browser-test-key"


class ApiServer:
    """`python3 api_ms.py` on 127.0.0.1 (a port it binds itself, read from its log) with its own data
    dir and weight paths that do not exist."""

    def __init__(self, data_dir: Path, *extra: str):
        self.data_dir = data_dir
        self.port: int | None = None
        nowhere = data_dir.parent / "no-weights"
        flags = [f"--{name}" for name in ("gpt-path", "sovits-path", "cnhubert-base-path", "bert-path", "sv-path")]
        weights = [item for flag in flags for item in (flag, str(nowhere / flag.strip("-")))]
        self.log_path = data_dir.parent / f"api-{data_dir.name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TTS_")} | {"GLOG_v": "3"}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "api_ms.py", "--host", "127.0.0.1", "--port", "0",
                 "--data-dir", str(data_dir), *weights, *extra],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)

    @property
    def url(self) -> str:
        assert self.port is not None, "wait() first"
        return f"http://127.0.0.1:{self.port}"

    def wait(self, timeout: float = 60.0) -> "ApiServer":
        self.port = wait_listening(self.proc, self.log_path, 0, timeout)
        wait_healthy(self.proc, self.url, self.log_path, timeout)
        return self

    def stop(self) -> None:
        stop(self.proc)


def add_model_by_api(url: str, media: dict, model_id: str, name: str, headers: dict | None = None,
                     categories: list[str] = ()) -> None:
    with open(media["avatar"], "rb") as avatar, open(media["clip"], "rb") as clip:
        reply = httpx.post(f"{url}/voice-models", headers=headers or {}, timeout=30,
                           data={"model_id": model_id, "model_name": name, "gender": "1", "categories": list(categories)},
                           files={"avatar": ("a.png", avatar, "image/png"), "refer_wav": ("c.wav", clip, "audio/wav")})
    assert reply.json()["code"] == 0, reply.text
