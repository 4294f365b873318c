"""Fine-tunes and syntheses in one durable queue, each kind taken by workers of its own (`--task-workers`
run syntheses, `--training-workers` fine-tunes), on the file store and on Redis (a real redis-server, as
test_tasks_redis.py): a synthesis queued behind a training runs while it trains, and the training yields
to it between steps; a synthesis worker never takes a fine-tune; a fine-tune whose process died resumes on
a training worker, also one queued in Redis's one shared queue of before kinds had queues of their own.

The training is a stand-in for the queue's `Finetuner` (the real one is tested in test_finetune_tasks.py):
"steps" until the test releases it, yielding to syntheses between them as the real one does."""
from __future__ import annotations

import threading

import pytest
import redis
from fastapi.testclient import TestClient

import tts_service.tasks as tasks_package
from GPT_SoVITS.pipeline import CancelledError
from support.fake_engine import FakeEngine
from support.tasks import get_task, settings_for, task_body, wait_running, wait_status, wait_until
from test_tasks_redis import lease_key, redis_server, redis_url  # noqa: F401  (fixtures)
from tts_service.app import create_app
from tts_service.tasks.factory import make_backend
from tts_service.tasks.record import new_entry
from tts_service.tasks.redis_backend import RedisTaskBackend

FINETUNE = {"kind": "finetune", "model_id": "v1"}


class HeldTraining:
    """Built by the queue in place of `Finetuner`; the class attributes are fresh for each test."""

    started: threading.Event
    blocked: threading.Event  # set once a between-steps check found a synthesis running
    release: threading.Event
    ran: list[tuple[str, int]]  # (task id, attempt) of each run

    def __init__(self, settings, voice_models, yield_to, models_turn=None):
        self.yield_to = yield_to

    def sweep(self, task_of) -> int:
        return 0

    def discard(self, entry: dict) -> None:
        pass

    def run(self, entry: dict, report, cancelled) -> dict:
        type(self).ran.append((entry["task_id"], entry["attempts"]))
        self.started.set()
        step = 0
        while not self.release.wait(0.01):  # one "step"
            step += 1
            report({"stage": "sovits", "step": step})
            if cancelled():
                raise CancelledError("fine-tune cancelled between steps")
            # `give_up` is asked only while syntheses run: then the training is waiting for them
            self.yield_to(lambda: self.blocked.set() or cancelled())
        return {"gpt": None, "sovits": None, "owned": True, "task_id": entry["task_id"]}


@pytest.fixture
def training(monkeypatch):
    class Training(HeldTraining):
        started, blocked, release, ran = threading.Event(), threading.Event(), threading.Event(), []

    monkeypatch.setattr(tasks_package, "Finetuner", Training)
    yield Training
    Training.release.set()


@pytest.fixture(params=["files", "redis"])
def store(request, tmp_path):
    """Settings on the file store or on Redis, and a backend on the same store (another "process")."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    def settings(**overrides):
        return settings_for(tmp_path, redis_url=url, **overrides)
    backend = make_backend(settings())
    backend.recover(3)
    return settings, backend


def died_while_training(backend, task_id: str) -> None:
    """A fine-tune claimed by a process that was then killed (-9): still `run`, nobody renewing it."""
    backend.create(new_entry(task_id, "admin", FINETUNE))
    if isinstance(backend, RedisTaskBackend):
        dead = RedisTaskBackend(backend.r)
        assert dead.claim(task_id)["attempts"] == 1
        backend.r.delete(lease_key(task_id))  # what its lease's expiry does
        dead._release(task_id)  # and a dead process renews nothing
    else:
        assert backend.claim(task_id)["attempts"] == 1  # the process dies with the file in task/


def test_a_synthesis_queued_behind_a_training_runs_while_it_trains(store, training, hold):
    settings, backend = store
    died_while_training(backend, "ft")
    with TestClient(create_app(settings(), engine=FakeEngine(segments=2, hold=hold))) as client:
        assert training.started.wait(30)  # resumed at start-up by the training worker
        reply = client.post("/voice-tasks", json=task_body("u1", "插队。", task_id="s1")).json()
        assert reply["code"] == 0, reply
        wait_running(client, "s1", "u1")  # default settings: one synthesis worker, one training worker
        wait_until(training.blocked.is_set)  # the training waits between its steps for the task's synthesis
        tasks = client.get("/healthz").json()["tasks"]
        assert (tasks["workers"], tasks["training_workers"]) == (1, 1)
        assert sorted((t["task_id"], t["kind"]) for t in tasks["running"]) == [("ft", "finetune"), ("s1", "synthesis")]
        hold.set()
        assert wait_status(client, "s1", "u1")["status"] == "done"
        assert get_task(client, "ft", "admin")["status"] == "run"
        training.release.set()
        done = wait_status(client, "ft", "admin")
        assert (done["status"], done["attempts"], done["weights"]["task_id"]) == ("done", 2, "ft")
    assert training.ran == [("ft", 2)]


def test_a_synthesis_worker_never_takes_a_finetune(store, training):
    settings, backend = store
    backend.create(new_entry("ft", "admin", FINETUNE))  # queued first
    with TestClient(create_app(settings(training_workers=0), engine=FakeEngine(segments=1))) as client:
        for task_id in ("s1", "s2"):
            assert client.post("/voice-tasks", json=task_body("u1", task_id, task_id=task_id)).json()["code"] == 0
        assert [wait_status(client, t, "u1")["status"] for t in ("s1", "s2")] == ["done", "done"]
        waiting = get_task(client, "ft", "admin")
        assert (waiting["status"], waiting["attempts"]) == ("wait", 0)
        reply = client.post("/voice-models/v1/finetune", json={"user_id": "admin"})
        if settings().redis_url is None:  # nobody could ever run it; with Redis another process may
            assert (reply.status_code, reply.json()["code"]) == (403, 3)
            assert "--training-workers" in reply.json()["message"]
    assert training.ran == []


def test_a_finetune_queued_by_the_previous_version_on_redis_runs_on_the_training_worker(
        tmp_path, redis_url, training):  # noqa: F811
    backend = RedisTaskBackend.from_url(redis_url)
    backend.recover(3)
    backend.create(new_entry("old", "admin", FINETUNE))
    server = redis.Redis.from_url(redis_url, decode_responses=True)
    # Before kinds had queues every waiting task was in `waiting`.
    assert server.zrem(backend.key("waiting", "finetune"), "old") == 1
    server.zadd(backend.key("waiting"), {"old": 1.0})
    with TestClient(create_app(settings_for(tmp_path, redis_url=redis_url), engine=FakeEngine(segments=1))) as client:
        assert training.started.wait(30)
        assert client.post("/voice-tasks", json=task_body("u1", "后来。", task_id="s1")).json()["code"] == 0
        assert wait_status(client, "s1", "u1")["status"] == "done"  # while the old fine-tune trains
        training.release.set()
        assert wait_status(client, "old", "admin")["status"] == "done"
    assert training.ran == [("old", 1)] and server.zcard(backend.key("waiting")) == 0
