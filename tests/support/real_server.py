"""Run `python3 api_ms.py` (the product, real pipeline) on 127.0.0.1 and a free port, for tests.

`golden_weight_args("v2")` gives the flags that point the service at the small golden weights.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from golden_data import model_file
from support.processes import free_port, log_tail, stop, wait_healthy

REPO = Path(__file__).resolve().parents[2]


def golden_weight_args(sovits_version: str = "v2", gpt_version: str = "v2") -> list[str]:
    """Flags for the golden tiny models (the HF folders are found where their big weight file lives)."""
    return [
        "--gpt-path", str(model_file(f"gpt/{gpt_version}/model.ckpt")),
        "--sovits-path", str(model_file(f"sovits/{sovits_version}/model.pth")),
        "--cnhubert-base-path", str(model_file("hubert/chinese-hubert-base/pytorch_model.bin").parent),
        "--bert-path", str(model_file("bert/chinese-roberta-wwm-ext-large/pytorch_model.bin").parent),
    ]


class RealServer:
    def __init__(self, data_dir: Path, args: list[str]):
        self.data_dir, self.port = Path(data_dir), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = args
        self.log_path = self.data_dir.parent / f"api_ms-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "RealServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 120.0) -> "RealServer":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "api_ms.py", "--host", "127.0.0.1", "--port", str(self.port),
                 "--data-dir", str(self.data_dir), "--device-target", "CPU", *self.args],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "GLOG_v": "3"})
        try:
            wait_healthy(self.proc, self.url, self.log_path, timeout)
        except RuntimeError:
            self.stop()
            raise
        return self

    def wait_models(self, timeout: float = 180.0) -> dict:
        """Block until /healthz reports the models loaded (or their loading failed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                # Graph compilation during the warm-up holds the GIL, so the server can pause for seconds.
                health = httpx.get(self.url + "/healthz", timeout=30.0).json()
            except httpx.TimeoutException:
                continue
            state = health.get("state")
            if state in ("ready", "failed"):
                return health
            time.sleep(0.5)
        raise RuntimeError(f"models not loaded within {timeout}s: {self.log()}")

    def log(self) -> str:
        return log_tail(self.log_path, 4000)

    def stop(self) -> None:
        stop(self.proc, timeout=15)
