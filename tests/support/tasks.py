"""Helpers for the task-queue tests: an app with the test engine, a reference clip, polling, disk checks."""
from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

from tts_service.settings import Settings

REF = "audio/ref.wav"  # the request's clip path; the test engine never reads it, the resolver checks it exists
TERMINAL = ("done", "error")


def settings_for(data_dir: Path, **overrides) -> Settings:
    settings = Settings(data_dir=Path(data_dir), load_models=False, **overrides)
    settings.ensure_layout()
    (settings.audio_dir / "ref.wav").write_bytes(b"RIFF")
    return settings


def task_body(user_id: str, text: str = "你好。", task_id: str | None = None, **extra) -> dict:
    body = {"user_id": user_id, "text": text, "ref_wav_path": REF, **extra}
    if task_id is not None:
        body["task_id"] = task_id
    return body


def wait_until(check, timeout: float = 30.0, every: float = 0.02):
    """Poll `check()` until it returns something truthy; fail (not a timing assertion) if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not reached within {timeout}s")


def get_task(client, task_id: str, user_id: str) -> dict | None:
    reply = client.get(f"/voice-tasks/{task_id}", params={"user_id": user_id}).json()
    return reply["data"] if reply["code"] == 0 else None


def wait_status(client, task_id: str, user_id: str, statuses=TERMINAL, timeout: float = 30.0) -> dict:
    def reached():
        task = get_task(client, task_id, user_id)
        return task if task and task["status"] in statuses else None

    return wait_until(reached, timeout)


def wait_running(client, task_id: str, user_id: str, segments: int = 1) -> dict:
    def reached():
        task = get_task(client, task_id, user_id)
        return task if task and task["status"] == "run" and task["segments_done"] >= segments else None

    return wait_until(reached)


def task_files(data_dir: Path) -> dict[str, list[Path]]:
    """Every task JSON on disk, by task id (a healthy store has exactly one path per id)."""
    found: dict[str, list[Path]] = {}
    for folder in ("task", "done", "error"):
        for path in (Path(data_dir) / folder).glob("*.json"):
            found.setdefault(path.stem, []).append(path)
    return found


def read_all(data_dir: Path) -> dict[str, dict]:
    """Each task file parsed (fails on a half-written file); the folder must match the status."""
    entries = {}
    for task_id, paths in task_files(data_dir).items():
        assert len(paths) == 1, f"{task_id} is in several folders: {paths}"
        entry = json.loads(paths[0].read_text(encoding="utf-8"))
        folder = paths[0].parent.name
        assert folder == {"wait": "task", "run": "task"}.get(entry["status"], entry["status"]), (folder, entry)
        entries[task_id] = entry
    return entries


@contextlib.contextmanager
def redis_app(data_dir: Path, redis_url: str, engine):
    """The service on the Redis queue at `redis_url`, started (workers, sweepers) for the block."""
    from fastapi.testclient import TestClient

    from tts_service.app import create_app

    with TestClient(create_app(settings_for(data_dir, redis_url=redis_url), engine=engine)) as client:
        yield client
