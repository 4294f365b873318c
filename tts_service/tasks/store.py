"""Tasks as files: `task/<id>.json` while waiting or running, then `done/` or `error/`.

The files are the truth; the dict in memory mirrors them so listings cost no disk reads. Every change
happens under one lock, writes the file first (atomically), then the mirror.

Finishing a task never copies: the final content is written over `task/<id>.json`, then that file is
renamed into `done/` or `error/`. A rename within one file system is atomic, so at every instant the
task is in exactly one folder. A crash between the two steps leaves a finished entry in `task/`,
which `recover` moves on; a crash mid-write leaves only a hidden temp file, which `recover` deletes.

Waiting tasks are handed to this process's workers through in-process queues, one per task kind
(dispatch.py): filled at `recover`, and by every change that leaves a task waiting (`create`, `requeue`).
The files carry the kind (none: a synthesis), so tasks written before kinds had queues are dispatched too.
"""
from __future__ import annotations

import copy
import logging
import threading
from pathlib import Path
from typing import Callable

from ..storage.ids import is_valid_id
from . import files
from .backend import Recovery, TaskBackend
from .dispatch import LocalDispatch
from .record import DONE, ERROR, LIVE, RUN, SYNTHESIS, TERMINAL, WAIT, kind_of, newest_first, now
from .transitions import claimed, finished, recovered, recovery_order, requeued, updated

log = logging.getLogger("tts_service.tasks")


class FileTaskStore(TaskBackend):
    def __init__(self, task_dir: Path, done_dir: Path, error_dir: Path):
        self.folders = {WAIT: Path(task_dir), RUN: Path(task_dir), DONE: Path(done_dir), ERROR: Path(error_dir)}
        self._lock = threading.RLock()
        self._entries: dict[str, dict] = {}
        self._dispatch = LocalDispatch()

    def path(self, entry: dict) -> Path:
        return self.folders[entry["status"]] / f"{entry['task_id']}.json"

    # --- start-up -------------------------------------------------------------------------------
    def recover(self, max_attempts: int) -> Recovery:
        report = Recovery()
        with self._lock:
            self._entries.clear()
            for folder in set(self.folders.values()):
                folder.mkdir(parents=True, exist_ok=True)
                report.repaired += files.remove_temp_files(folder)
            # Finished tasks first: if a task is also in task/, the finished copy wins.
            for status in (DONE, ERROR, WAIT):
                for path in sorted(self.folders[status].glob("*.json")):
                    entry = self._read(path, report)
                    if entry is not None:
                        self._adopt(path, entry, report)
            for entry in recovery_order([e for e in self._entries.values() if e["status"] in LIVE]):
                self._resume(entry, max_attempts, report)
            self._dispatch.reset([(task_id, kind_of(self._entries[task_id])) for task_id in report.queued])
        return report

    def _read(self, path: Path, report: Recovery) -> dict | None:
        try:
            entry = files.read_json(path)
            if entry.get("task_id") != path.stem or not is_valid_id(path.stem) or entry.get("status") not in self.folders:
                raise ValueError("task_id or status does not match the file")
            return entry
        except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
            log.error("task file %s is unreadable (%s): set aside as .corrupt", path, exc)
            files.move(path, path.with_name(path.name + ".corrupt"))
            report.corrupt.append(path.name)
            return None

    def _adopt(self, path: Path, entry: dict, report: Recovery) -> None:
        known = self._entries.get(entry["task_id"])
        if known is not None:  # the same task in two folders: keep the finished, then the newer copy
            keep_known = known["status"] in TERMINAL and (
                entry["status"] in LIVE or known.get("updated_at", 0) >= entry.get("updated_at", 0))
            files.unlink(path if keep_known else self.path(known))
            report.repaired += 1
            if keep_known:
                return
        if self.path(entry) != path:  # finished in place, crashed before the rename
            files.move(path, self.path(entry))
            report.repaired += 1
        self._entries[entry["task_id"]] = entry

    def _resume(self, entry: dict, max_attempts: int, report: Recovery) -> None:
        """A live task at start-up: this process is the only one, so a running one lost its worker."""
        entry = self._store(entry, recovered(entry, max_attempts, now())) or entry
        (report.interrupted if entry["status"] == ERROR else report.queued).append(entry["task_id"])

    # --- reads ----------------------------------------------------------------------------------
    def get(self, task_id: str) -> dict | None:
        with self._lock:
            entry = self._entries.get(task_id)
            return copy.deepcopy(entry) if entry else None

    def list_user(self, user_id: str) -> list[dict]:
        with self._lock:
            return newest_first([copy.deepcopy(e) for e in self._entries.values() if e["user_id"] == user_id])

    def entries(self) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(e) for e in self._entries.values()]

    def count_unfinished(self, user_id: str) -> tuple[int, int]:
        with self._lock:  # the mirror, without copying entries
            live = [e["user_id"] for e in self._entries.values() if e["status"] in LIVE]
        return len(live), live.count(user_id)

    # --- dispatch -------------------------------------------------------------------------------
    def next_task(self, kind: str = SYNTHESIS) -> str | None:
        return self._dispatch.take(kind)

    def stop_waiting(self) -> None:
        self._dispatch.close()

    # --- changes --------------------------------------------------------------------------------
    def _store(self, entry: dict, changed: dict | None) -> dict | None:
        """Write a transition's result (None: nothing to write). The new content goes over the current
        file first, then one atomic rename moves it when its folder changes (done/ or error/)."""
        if changed is None:
            return None
        here = self.path(entry)
        files.write_json(here, changed)
        if self.path(changed) != here:
            files.move(here, self.path(changed))
        self._entries[changed["task_id"]] = changed
        return copy.deepcopy(changed)

    def _change(self, task_id: str, transition) -> dict | None:
        with self._lock:
            entry = self._entries.get(task_id)
            return self._store(entry, transition(entry))  # transitions take None: the task is gone

    def create(self, entry: dict) -> bool:
        with self._lock:
            if entry["task_id"] in self._entries:
                return False
            files.write_json(self.path(entry), entry)
            self._entries[entry["task_id"]] = copy.deepcopy(entry)
        self._dispatch.put(entry["task_id"], kind_of(entry))
        return True

    def claim(self, task_id: str, kind: str | None = None) -> dict | None:
        return self._change(task_id, lambda entry: claimed(entry, now(), kind))

    def update(self, task_id: str, **changes) -> dict | None:
        return self._change(task_id, lambda entry: updated(entry, changes, now()))

    def finish(self, task_id: str, status: str, **changes) -> dict | None:
        return self._change(task_id, lambda entry: finished(entry, status, changes, now()))

    def requeue(self, task_id: str, **changes) -> dict | None:
        waiting = self._change(task_id, lambda entry: requeued(entry, changes, now()))
        if waiting is not None:
            self._dispatch.put(task_id, kind_of(waiting))
        return waiting

    def remove(self, task_id: str, only_if: Callable[[dict], bool] | None = None) -> dict | None:
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None or (only_if is not None and not only_if(copy.deepcopy(entry))):
                return None
            files.unlink(self.path(entry))
            del self._entries[task_id]
            return copy.deepcopy(entry)
