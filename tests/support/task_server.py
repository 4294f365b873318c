"""Run the real service (uvicorn, one process) with the slow test engine: for crash and load tests.

    python3 tests/support/task_server.py --data-dir DIR --port PORT [--segments 4] [--delay 0.2]

`ServerProcess` starts it as a subprocess on 127.0.0.1 and a free port and waits until /healthz
answers; `kill()` is a SIGKILL (no shutdown hook runs: what a crash or power cut leaves).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # also when run as a script

from support.processes import free_port, stop, wait_healthy  # noqa: E402,F401 (free_port re-exported)


class ServerProcess:
    def __init__(self, data_dir: Path, segments: int = 4, delay: float = 0.2, workers: int = 1,
                 max_attempts: int = 3):
        self.data_dir, self.port = Path(data_dir), free_port()
        self.args = ["--segments", str(segments), "--delay", str(delay), "--workers", str(workers),
                     "--max-attempts", str(max_attempts)]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"

    def start(self, timeout: float = 60.0) -> "ServerProcess":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--data-dir", str(self.data_dir),
             "--port", str(self.port), *self.args],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "GLOG_v": "3"})
        log.close()
        try:
            wait_healthy(self.proc, self.url, self.log_path, timeout)
        except RuntimeError:
            self.kill()
            raise
        return self

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, like a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        stop(self.proc, timeout=30)


def main() -> None:
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "tests"))
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-attempts", type=int, default=3)
    args = parser.parse_args()

    import uvicorn

    from support.fake_engine import FakeEngine
    from tts_service.app import create_app
    from tts_service.settings import Settings

    settings = Settings(data_dir=Path(args.data_dir), load_models=False, task_workers=args.workers,
                        task_max_attempts=args.max_attempts)
    app = create_app(settings, engine=FakeEngine(segments=args.segments, delay=args.delay))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
