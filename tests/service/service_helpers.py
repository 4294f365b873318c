"""Helpers shared by the service tests (imported by name: conftest puts this folder on sys.path)."""
from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient


def snapshot(data_dir: Path) -> dict:
    """Both stores' contents and every file under audio/ with its hash."""
    state = {name: (data_dir / name).read_text(encoding="utf-8")
             for name in ("voice_models.json", "voice_categories.json")}
    audio = data_dir / "audio"
    state["audio"] = {str(p.relative_to(audio)): hashlib.sha1(p.read_bytes()).hexdigest()
                      for p in sorted(audio.rglob("*")) if p.is_file()}
    return state


def create_model(client: TestClient, clip: Path, avatar: bytes, model_id: str = "xiaoyun", **fields):
    form = {"model_id": model_id, "model_name": "小云", "gender": "2", "prompt_text": "今天天气真不错",
            "prompt_language": "all_zh", **fields}
    files = {"avatar": ("a.png", avatar, "image/png"), "refer_wav": (clip.name, clip.read_bytes(), "audio/wav")}
    return client.post("/voice-models", data=form, files=files)


def assert_envelope(response, code: int, status: int) -> dict:
    body = response.json()
    assert set(body) == {"code", "message", "data"}, body
    assert body["code"] == code, body
    assert response.status_code == status, (response.status_code, body)
    if code:
        assert body["message"], body
    return body


def run_coroutine(coroutine):
    """asyncio.run in a fresh thread: other tests (Playwright's sync API) may leave a loop running here."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
