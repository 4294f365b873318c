"""The file store on its own: what start-up does with each state a crash can leave on disk."""
from __future__ import annotations

import json

import pytest

from support.tasks import read_all, task_files
from tts_service.tasks import files
from tts_service.tasks.logs import TaskLogs
from tts_service.tasks.record import new_entry
from tts_service.tasks.store import FileTaskStore

MAX_ATTEMPTS = 3


def make_store(root) -> FileTaskStore:
    return FileTaskStore(root / "task", root / "done", root / "error")


def put(root, folder: str, task_id: str, created_at: int = 1000, **fields) -> dict:
    entry = {**new_entry(task_id, "u1", {"text": "x"}), "created_at": created_at, **fields}
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / f"{task_id}.json").write_text(json.dumps(entry), encoding="utf-8")
    return entry


def test_waiting_and_running_tasks_are_queued_again_oldest_first(tmp_path):
    put(tmp_path, "task", "late", created_at=2000)
    put(tmp_path, "task", "early", created_at=1000, status="run", attempts=1)
    store = make_store(tmp_path)
    report = store.recover(MAX_ATTEMPTS)
    assert report.queued == ["early", "late"] and report.interrupted == []
    assert store.get("early")["status"] == "wait" and store.get("early")["attempts"] == 1
    assert read_all(tmp_path)["early"]["status"] == "wait"


def test_a_task_that_ran_max_attempts_times_ends_interrupted(tmp_path):
    put(tmp_path, "task", "poison", status="run", attempts=MAX_ATTEMPTS)
    store = make_store(tmp_path)
    report = store.recover(MAX_ATTEMPTS)
    assert report.interrupted == ["poison"] and report.queued == []
    entry = read_all(tmp_path)["poison"]
    assert (entry["status"], entry["reason"]) == ("error", "interrupted") and entry["error"]


def test_crash_between_final_write_and_rename_is_completed(tmp_path):
    put(tmp_path, "task", "finished", status="done", progress=100)
    put(tmp_path, "task", "failed", status="error", reason="failed", error="boom")
    store = make_store(tmp_path)
    report = store.recover(MAX_ATTEMPTS)
    assert report.repaired == 2 and report.queued == []
    assert (tmp_path / "done" / "finished.json").exists() and (tmp_path / "error" / "failed.json").exists()
    assert read_all(tmp_path).keys() == {"finished", "failed"}


def test_a_task_in_two_folders_keeps_the_finished_copy(tmp_path):
    put(tmp_path, "task", "twice", status="run", attempts=1)
    put(tmp_path, "done", "twice", status="done", progress=100)
    store = make_store(tmp_path)
    assert store.recover(MAX_ATTEMPTS).queued == []
    assert read_all(tmp_path)["twice"]["status"] == "done"


def test_temp_files_are_removed_and_unreadable_files_set_aside(tmp_path):
    put(tmp_path, "task", "fine")
    (tmp_path / "done").mkdir()
    (tmp_path / "task" / ".fine.json.abc.tmp").write_text('{"task_id": "fi', encoding="utf-8")
    (tmp_path / "done" / "torn.json").write_text('{"task_id": "to', encoding="utf-8")
    (tmp_path / "done" / "renamed.json").write_text(json.dumps(new_entry("other", "u1", {})), encoding="utf-8")
    store = make_store(tmp_path)
    report = store.recover(MAX_ATTEMPTS)
    assert report.queued == ["fine"] and sorted(report.corrupt) == ["renamed.json", "torn.json"]
    assert not list((tmp_path / "task").glob(".*.tmp"))
    assert (tmp_path / "done" / "torn.json.corrupt").exists()
    assert set(read_all(tmp_path)) == {"fine"}


def test_finish_moves_the_file_and_nothing_revives_a_finished_or_removed_task(tmp_path):
    store = make_store(tmp_path)
    store.recover(MAX_ATTEMPTS)
    assert store.create(new_entry("a", "u1", {"text": "x"}))
    assert not store.create(new_entry("a", "u2", {"text": "y"}))
    assert store.claim("a")["attempts"] == 1 and store.claim("a") is None
    store.finish("a", "error", reason="cancelled")
    assert store.update("a", progress=50) is None and store.finish("a", "done") is None
    assert store.requeue("a") is None
    assert read_all(tmp_path)["a"]["reason"] == "cancelled"
    store.remove("a")
    assert store.update("a", progress=1) is None and read_all(tmp_path) == {}
    with pytest.raises(ValueError):
        store.finish("a", "run")


def test_a_crash_inside_finish_leaves_exactly_one_copy(tmp_path, monkeypatch):
    store = make_store(tmp_path)
    store.recover(MAX_ATTEMPTS)
    store.create(new_entry("b", "u1", {"text": "x"}))
    store.claim("b")

    def crash(source, target):
        raise OSError("power cut")

    monkeypatch.setattr(files, "move", crash)
    with pytest.raises(OSError):
        store.finish("b", "done", progress=100)
    monkeypatch.undo()
    left = task_files(tmp_path)["b"]  # still one file, in task/, already saying done
    assert len(left) == 1 and left[0].parent.name == "task"
    assert json.loads(left[0].read_text(encoding="utf-8"))["status"] == "done"
    fresh = make_store(tmp_path)
    assert fresh.recover(MAX_ATTEMPTS).queued == []
    assert read_all(tmp_path)["b"]["status"] == "done" and fresh.get("b")["status"] == "done"


def test_task_logs_open_nothing_for_long_and_refuse_odd_ids(tmp_path):
    logs = TaskLogs(tmp_path / "Logs")
    logs.write("ok-1", "line one")
    logs.write("ok-1", "two\nlines")
    assert logs.read("ok-1").count("\n") == 3
    for odd in ("../x", "/tmp/x", "a.b", ""):
        with pytest.raises(ValueError):
            logs.write(odd, "nope")
    logs.remove("ok-1")
    assert logs.read("ok-1") == ""


def test_waiting_tasks_are_dispatched_in_order_and_stop_waiting_ends_every_wait(tmp_path):
    """The backend contract's dispatch, file side: recovered tasks first, then new and requeued ones, each
    offered to `next_task` once; after `stop_waiting` no waiting task is handed out any more."""
    put(tmp_path, "task", "old", created_at=1000)
    store = make_store(tmp_path)
    store.recover(MAX_ATTEMPTS)
    store.create(new_entry("new", "u1", {"text": "x"}))
    assert [store.next_task(), store.next_task()] == ["old", "new"]
    assert store.claim("new")["status"] == "run"
    store.requeue("new")
    assert store.next_task() == "new"
    store.create(new_entry("late", "u1", {"text": "x"}))
    store.stop_waiting()
    assert store.next_task() is None and store.get("late")["status"] == "wait"  # its turn is the next start
    store.recover(MAX_ATTEMPTS)  # every task still waiting, none of them claimed: offered again, oldest first
    again = [store.next_task() for _ in range(3)]
    assert again[0] == "old" and sorted(again) == ["late", "new", "old"]
