"""DELETE of a running task when the worker ends it first: the answer still shows the cancelled record.

DELETE flags the task, then finishes it as cancelled; the worker polls the flag between segments and
may finish the task itself in between (seen on Redis, ~1 run in 6). Here that order is forced: the
API's finish waits until the worker's has happened (an event, no timing).
"""
from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from support.fake_engine import FakeEngine
from support.tasks import settings_for, task_body, wait_running, wait_until
from tts_service.app import create_app

WAIT = 30.0


def test_delete_shows_the_cancelled_record_when_the_worker_finished_it_first(tmp_path):
    hold = threading.Event()
    app = create_app(settings_for(tmp_path), engine=FakeEngine(segments=3, hold=hold))
    with TestClient(app) as client:
        assert client.post("/voice-tasks", json=task_body("u1", "长文本。", task_id="long")).json()["code"] == 0
        wait_running(client, "long", "u1")
        backend = app.state.task_queue.backend
        finish, worker_finished = backend.finish, threading.Event()

        def worker_first(task_id: str, status: str, **changes):
            if threading.current_thread().name.startswith("task-worker"):
                result = finish(task_id, status, **changes)
                worker_finished.set()
                return result
            assert worker_finished.wait(WAIT), "the worker never saw the cancellation"
            return finish(task_id, status, **changes)

        backend.finish = worker_first
        try:
            reply = client.delete("/voice-tasks/long", params={"user_id": "u1"}).json()
        finally:
            hold.set()
        assert reply["code"] == 0 and reply["data"]["cancelled"] is True, reply
        task = reply["data"]["task"]
        assert task is not None and (task["status"], task["reason"]) == ("error", "cancelled"), reply
        wait_until(lambda: client.get("/healthz").json()["tasks"]["running"] == [])
