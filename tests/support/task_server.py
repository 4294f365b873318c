"""Run the real service (uvicorn, one process) with the slow test engine: for crash and load tests.

    python3 tests/support/task_server.py --data-dir DIR --port PORT [--segments 4] [--delay 0.2]
                                         [--hold-file PATH]

`ServerProcess` starts it as a subprocess on 127.0.0.1 with `--port 0` (the port is bound by the server
and read from its log: nobody can take it in between) and waits until /healthz answers; `kill()` is a
SIGKILL (no shutdown hook runs: what a crash or power cut leaves). With `hold_file`, every synthesis
stops after its first segment until that file exists (`release()` creates it), so a test can kill or
stop the server while a task is surely mid-run, whatever the machine's load.
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

from support.processes import free_port, log_size, stop, wait_healthy, wait_listening  # noqa: E402,F401


class FileHold:
    """A `threading.Event` look-alike across processes: set once the file exists."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def is_set(self) -> bool:
        return self.path.exists()

    def set(self) -> None:
        self.path.touch()


class ServerProcess:
    def __init__(self, data_dir: Path, segments: int = 4, delay: float = 0.2, workers: int = 1,
                 max_attempts: int = 3, hold_file: Path | None = None):
        self.data_dir = Path(data_dir)
        self.port: int | None = None
        self.args = ["--segments", str(segments), "--delay", str(delay), "--workers", str(workers),
                     "--max-attempts", str(max_attempts)]
        if hold_file is not None:
            self.args += ["--hold-file", str(hold_file)]
        self.hold = FileHold(hold_file) if hold_file is not None else None
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"server-{self.data_dir.name}.log"

    @property
    def url(self) -> str:
        assert self.port is not None, "the server is not started"
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "ServerProcess":
        offset = log_size(self.log_path)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--data-dir", str(self.data_dir),
                 "--port", "0", *self.args],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "GLOG_v": "3"})
        try:
            self.port = wait_listening(self.proc, self.log_path, offset, timeout)
            wait_healthy(self.proc, self.url, self.log_path, timeout)
        except RuntimeError:
            self.kill()
            raise
        return self

    def release(self) -> None:
        """Let held syntheses go on past their first segment."""
        assert self.hold is not None, "started without a hold file"
        self.hold.set()

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
    parser.add_argument("--port", type=int, required=True, help="0: any free port, reported in the log")
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-attempts", type=int, default=3)
    parser.add_argument("--hold-file", default=None, help="hold every synthesis after its first segment "
                                                          "until this file exists")
    args = parser.parse_args()

    import uvicorn

    from support.fake_engine import FakeEngine
    from tts_service.app import create_app
    from tts_service.settings import Settings

    settings = Settings(data_dir=Path(args.data_dir), load_models=False, task_workers=args.workers,
                        task_max_attempts=args.max_attempts)
    hold = FileHold(Path(args.hold_file)) if args.hold_file else None
    app = create_app(settings, engine=FakeEngine(segments=args.segments, delay=args.delay, hold=hold))
    # info: uvicorn's "Uvicorn running on ..." line says which port it bound; no access log lines
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="info", access_log=False)


if __name__ == "__main__":
    main()
