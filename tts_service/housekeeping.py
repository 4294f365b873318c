"""Files the service leaves behind by itself: direct-synthesis results and upload staging leftovers.

- `output/direct/`: every whole /synthesize answer is kept there (its X-Output-Url). Files whose
  modification time is older than `output_retention` seconds are removed; <= 0 keeps them forever.
- `.staging/`: an upload is assembled there and moved out or removed within its request, so an entry
  that stays is what a crash left. At start-up every entry goes: no upload is live before the app
  serves, and without --redis-url the data dir belongs to this one process. With --redis-url, other
  processes sharing the data dir may be uploading right now, so only entries untouched for
  `STAGING_GRACE` go, at start-up and at every sweep (no upload takes that long: its body is already
  read, bounded by the size limits and --body-timeout, before staging starts).
The sweep runs at start-up, then at the task sweeper's rhythm (`tasks.retention.sweep_interval`).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import stat
import time
from pathlib import Path
from typing import AsyncIterator

from .settings import Settings
from .tasks.retention import sweep_interval

log = logging.getLogger("tts_service.housekeeping")
STAGING_GRACE = 3600.0  # seconds a staging entry may sit untouched before it counts as a leftover


def remove_old_outputs(folder: Path, retention: float, now: float | None = None) -> list[str]:
    """Regular files in `folder` last modified more than `retention` seconds ago; the names removed."""
    if retention <= 0 or not folder.is_dir():
        return []
    expire_before = (time.time() if now is None else now) - retention
    removed = []
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False) and _modified(entry) <= expire_before:
            _remove(Path(entry.path))
            removed.append(entry.name)
    return removed


def remove_staging_leftovers(folder: Path, older_than: float, now: float | None = None) -> list[str]:
    """Entries of the staging folder untouched for `older_than` seconds (<= 0: all); the names removed."""
    if not folder.is_dir():
        return []
    expire_before = (time.time() if now is None else now) - older_than
    removed = []
    for entry in os.scandir(folder):
        if older_than <= 0 or _modified(entry) <= expire_before:
            _remove(Path(entry.path))
            removed.append(entry.name)
    return removed


def _modified(entry: os.DirEntry) -> float:
    """Its modification time; +inf (never expired) if it went meanwhile (its request removed it)."""
    try:
        return entry.stat(follow_symlinks=False).st_mtime
    except FileNotFoundError:
        return float("inf")


def _remove(path: Path) -> None:
    try:
        is_folder = stat.S_ISDIR(path.lstat().st_mode)
    except FileNotFoundError:
        return
    if is_folder:
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def startup_staging_grace(settings: Settings) -> float:
    """How old a staging entry must be to go at start-up: any age, unless processes share the data dir."""
    return STAGING_GRACE if settings.redis_url else 0.0


def sweep(settings: Settings, now: float | None = None) -> list[str]:
    """One pass over both folders; the paths removed, relative to the data dir. Blocking (file I/O)."""
    outputs = remove_old_outputs(settings.direct_output_dir, settings.output_retention, now)
    staging = remove_staging_leftovers(settings.staging_dir, STAGING_GRACE, now)
    removed = [f"output/direct/{name}" for name in outputs] + [f".staging/{name}" for name in staging]
    if removed:
        log.info("[CLEANUP] removed %d expired file(s): %s", len(removed), ", ".join(removed[:20]))
    return removed


async def run_forever(settings: Settings) -> None:
    """The background sweeper; cancelled at shutdown."""
    interval = sweep_interval(settings.output_retention if settings.output_retention > 0 else STAGING_GRACE)
    while True:
        try:
            await asyncio.to_thread(sweep, settings)
        except Exception:  # a failed sweep is retried next time; it must not stop the sweeper
            log.exception("output/staging retention sweep failed")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[None]:
    """The app's lifespan part: at start-up clear the staging leftovers, then sweep in the background
    until shutdown."""
    leftovers = await asyncio.to_thread(remove_staging_leftovers, settings.staging_dir,
                                        startup_staging_grace(settings))
    if leftovers:
        log.info("[CLEANUP] removed %d upload staging leftover(s) of an earlier run", len(leftovers))
    sweeper = asyncio.create_task(run_forever(settings), name="housekeeping")
    try:
        yield
    finally:
        sweeper.cancel()
