"""What the service cleans up by itself (issue 19): output/direct/ past `output_retention`, and the
upload staging leftovers of a crash. Ages are made with os.utime: no waiting."""
from __future__ import annotations

import os
import time
from pathlib import Path

from fastapi.testclient import TestClient

from support.fake_engine import FakeEngine
from support.tasks import settings_for, wait_until
from tts_service import housekeeping
from tts_service.app import create_app

HOUR = 3600.0


def aged(path: Path, seconds: float, content: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.suffix and not path.exists():
        (path / "files").mkdir(parents=True)  # a staging folder as an upload makes it
        (path / "files" / "avatar.png").write_bytes(content)
    elif not path.exists():
        path.write_bytes(content)
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))
    return path


def test_the_sweeper_removes_direct_outputs_past_their_retention(tmp_path):
    settings = settings_for(tmp_path, output_retention=HOUR)
    direct = settings.direct_output_dir
    old, fresh = aged(direct / "old.wav", 2 * HOUR), aged(direct / "fresh.mp3", 60)
    elsewhere = aged(settings.output_dir / "elsewhere.wav", 2 * HOUR)  # outside output/direct/: kept
    with TestClient(create_app(settings, engine=FakeEngine())):
        wait_until(lambda: not old.exists())  # the first sweep runs as the app starts
        assert fresh.exists()
    assert elsewhere.exists()


def test_a_retention_of_zero_or_less_keeps_direct_outputs_forever(tmp_path):
    folder = tmp_path / "direct"
    old = aged(folder / "old.wav", 10**6)
    for retention in (0, -1):
        assert housekeeping.remove_old_outputs(folder, retention) == []
    assert old.exists()
    assert housekeeping.remove_old_outputs(folder, HOUR) == ["old.wav"] and not old.exists()


def test_staging_leftovers_of_a_crash_are_removed_at_start_up(tmp_path):
    settings = settings_for(tmp_path)
    leftovers = [aged(settings.staging_dir / "model-abc123", 5), aged(settings.staging_dir / "deleted-m1-1a2b", 5),
                 aged(settings.staging_dir / "stray.tmp", 5)]
    with TestClient(create_app(settings, engine=FakeEngine())):
        assert not any(path.exists() for path in leftovers)
        assert settings.staging_dir.is_dir()
        # While serving, an upload's staging folder is left alone; only one untouched for an hour goes.
        live, stale = aged(settings.staging_dir / "model-live", 0), aged(settings.staging_dir / "model-stale", 2 * HOUR)
        housekeeping.sweep(settings)
        assert live.exists() and not stale.exists()


def test_with_a_shared_data_dir_start_up_removes_only_old_staging_entries(tmp_path):
    """With --redis-url other processes may be uploading into the same .staging/ at start-up."""
    assert housekeeping.startup_staging_grace(settings_for(tmp_path)) == 0
    shared = settings_for(tmp_path, redis_url="redis://127.0.0.1:1/0")
    grace = housekeeping.startup_staging_grace(shared)
    assert grace >= HOUR
    live, stale = aged(shared.staging_dir / "model-live", 60), aged(shared.staging_dir / "model-old", grace + 60)
    assert housekeeping.remove_staging_leftovers(shared.staging_dir, grace) == ["model-old"]
    assert live.exists() and not stale.exists()
