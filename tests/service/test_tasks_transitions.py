"""The task state rules (tts_service/tasks/transitions.py): pure functions of the entry that both backends
apply, so the file store and Redis cannot disagree on what a claim, a finish or a recovery does."""
from __future__ import annotations

import copy

import pytest

from tts_service.tasks.record import new_entry
from tts_service.tasks.transitions import claimed, finished, recovered, recovery_order, requeued, updated

T = 5000  # the time of each change


def entry(status: str = "wait", attempts: int = 0, **fields) -> dict:
    return {**new_entry("t1", "u1", {"text": "x"}), "status": status, "attempts": attempts, **fields}


def test_a_claim_takes_only_a_waiting_task_and_counts_the_attempt():
    running = claimed(entry(attempts=1), T)
    assert (running["status"], running["attempts"], running["started_at"], running["updated_at"]) == ("run", 2, T, T)
    for status in ("run", "done", "error"):
        assert claimed(entry(status), T) is None
    assert claimed(None, T) is None


def test_updates_and_finishes_never_touch_a_finished_or_missing_task():
    for status in ("done", "error"):
        assert updated(entry(status), {"progress": 50}, T) is None
        assert finished(entry(status), "done", {}, T) is None
    assert updated(None, {"progress": 1}, T) is None and finished(None, "error", {}, T) is None
    assert updated(entry("run"), {"progress": 50}, T)["progress"] == 50
    done = finished(entry("run"), "done", {"progress": 100}, T)
    assert (done["status"], done["finished_at"], done["progress"]) == ("done", T, 100)
    with pytest.raises(ValueError):
        updated(entry("run"), {"status": "done"}, T)  # ending a task is finish's job
    with pytest.raises(ValueError):
        finished(entry("run"), "run", {}, T)


def test_requeue_gives_a_running_task_back_only():
    assert requeued(entry("run", attempts=0), {"attempts": 0}, T)["status"] == "wait"
    assert requeued(entry("wait"), {}, T) is None and requeued(entry("done"), {}, T) is None


@pytest.mark.parametrize("attempts,status,reason", [(1, "wait", None), (2, "wait", None), (3, "error", "interrupted")])
def test_recovery_requeues_a_dead_process_task_until_it_used_its_attempts(attempts, status, reason):
    before = entry("run", attempts=attempts)
    kept = copy.deepcopy(before)
    after = recovered(before, 3, T)
    assert (after["status"], after["reason"], after["attempts"]) == (status, reason, attempts)
    assert before == kept  # pure: the caller's entry is not changed
    assert recovered(entry("wait"), 3, T) is None and recovered(entry("done"), 3, T) is None


def test_recovery_order_is_oldest_first_then_by_id():
    entries = [entry(task_id=i, created_at=c) for i, c in (("b", 2), ("c", 1), ("a", 2))]
    assert [e["task_id"] for e in recovery_order(entries)] == ["c", "a", "b"]
