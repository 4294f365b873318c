"""Run `python3 api_ms.py` (the product, real pipeline) on 127.0.0.1 and a port of its own, for tests.

`golden_weight_args("v2")` gives the flags that point the service at the small golden weights;
`e2e_weight_args()` those of the end-to-end golden run (`e2e/meta.json` names its models).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from golden_data import e2e_file, model_file, model_meta
from support.processes import log_size, log_tail, stop, wait_healthy, wait_listening

REPO = Path(__file__).resolve().parents[2]
HF_WEIGHTS = "pytorch_model.bin"  # the file that locates a HuggingFace folder of the golden set


def _e2e_models() -> dict[str, Path]:
    """The end-to-end golden run's models by the service's flag, as `e2e/meta.json` names them."""
    models = model_meta("e2e")["models"]
    return {"--gpt-path": e2e_file(models["gpt"]), "--sovits-path": e2e_file(models["sovits"]),
            "--cnhubert-base-path": e2e_file(models["hubert"], inside=HF_WEIGHTS),
            "--bert-path": e2e_file(models["bert"], inside=HF_WEIGHTS)}


def _flags(paths: dict[str, Path]) -> list[str]:
    return [item for flag, path in paths.items() for item in (flag, str(path))]


def e2e_weight_args() -> list[str]:
    """Flags for exactly the models of the end-to-end golden run."""
    return _flags(_e2e_models())


def golden_weight_args(sovits_version: str = "v2", gpt_version: str = "v2") -> list[str]:
    """Flags for the golden tiny models: these GPT and SoVITS folders, with the e2e run's HuBERT and BERT."""
    return _flags(_e2e_models() | {"--gpt-path": model_file(f"gpt/{gpt_version}/model.ckpt"),
                                   "--sovits-path": model_file(f"sovits/{sovits_version}/model.pth")})


class RealServer:
    def __init__(self, data_dir: Path, args: list[str], script: str = "api_ms.py", env: dict | None = None):
        self.data_dir = Path(data_dir)
        self.script = script  # a test's launcher may wrap api_ms.py (tests/support/finetune_server.py)
        self.env = dict(env or {})  # added to this process's environment; may be changed between starts
        self.port: int | None = None  # bound by the server itself (--port 0), read from its log
        self.args = args
        self.log_path = self.data_dir.parent / f"api_ms-{self.data_dir.name}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        assert self.port is not None, "the server is not started"
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "RealServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 120.0) -> "RealServer":
        offset = log_size(self.log_path)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, self.script, "--host", "127.0.0.1", "--port", "0",
                 "--data-dir", str(self.data_dir), "--device-target", "CPU", *self.args],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "GLOG_v": "3", **self.env})
        try:
            self.port = wait_listening(self.proc, self.log_path, offset, timeout)
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

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, like a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        stop(self.proc, timeout=15)
