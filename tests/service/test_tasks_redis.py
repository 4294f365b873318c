"""The Redis-backed task queue against a real redis-server: the file backend's behaviour, atomic claims
across processes (two apps, one Redis), and a dead worker's task run again once its lease is gone.

The server (support/redis_server.py) runs on a free port in a temp dir, without persistence; a port
another process takes first makes it exit, and it is started again on another one (the test checks
that the server it talks to is its own, by its dir). Without redis-server the tests skip, or fail where the run must
not skip (CI, TESTS_NO_SKIP=1, --no-skip: support/required.py); tests/run.sh installs it.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import deque

import pytest
import redis

import test_tasks_api as file_tests
from support.fake_engine import FakeEngine, expected_audio
from support.processes import free_port
from support.redis_server import RedisServer
from support.tasks import redis_app, settings_for, task_body, wait_running, wait_status, wait_until
from tts_service.tasks.factory import make_backend
from tts_service.tasks.record import new_entry
from tts_service.tasks.redis_backend import RedisTaskBackend, RedisUnavailable

MAX_ATTEMPTS = 3


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server):
    redis.Redis.from_url(redis_server).flushdb()
    return redis_server


def submit(client, body) -> dict:
    reply = client.post("/voice-tasks", json=body).json()
    assert reply["code"] == 0, reply
    return reply["data"]


def lease_key(task_id: str) -> str:
    return RedisTaskBackend(None).key("lease", task_id)


# --- the file backend's behavioural tests, run on Redis --------------------------------------------
@pytest.fixture
def on_redis(monkeypatch, redis_url):
    """The API tests of test_tasks_api.py, with every app they build backed by this Redis, and their
    look at the stored records (`read_all`) reading Redis instead of the task files."""
    monkeypatch.setattr(file_tests, "settings_for", lambda data_dir, **o: settings_for(data_dir, redis_url=redis_url, **o))
    store = RedisTaskBackend.from_url(redis_url)
    monkeypatch.setattr(file_tests, "read_all", lambda data_dir: {e["task_id"]: e for e in store.entries()})


def _plain(name: str) -> bool:  # parametrised ones (request validation) do not touch the backend
    return name.startswith("test_") and not hasattr(getattr(file_tests, name), "pytestmark")


FILE_BACKEND_TESTS = sorted(filter(_plain, dir(file_tests)))


@pytest.mark.parametrize("name", FILE_BACKEND_TESTS)
def test_file_backend_behaviour_holds_on_redis(name, tmp_path, on_redis, request):
    test = getattr(file_tests, name)
    fixtures = {"tmp_path": tmp_path, "hold": request.getfixturevalue("hold")}
    test(**{arg: fixtures[arg] for arg in test.__code__.co_varnames[:test.__code__.co_argcount]})


def test_submit_runs_to_done_with_a_wav_and_no_task_files(tmp_path, redis_url, hold):
    with redis_app(tmp_path, redis_url, FakeEngine(segments=3, hold=hold)) as client:
        submit(client, task_body("u1", "第一句。第二句。", task_id="job-1"))
        midway = wait_running(client, "job-1", "u1")
        assert (midway["segments_done"], midway["total_segments"], midway["attempts"]) == (1, 3, 1)
        hold.set()
        done = wait_status(client, "job-1", "u1")
        assert (done["status"], done["progress"], done["reason"]) == ("done", 100, None)
        audio = client.get(done["result_url"])
        assert audio.status_code == 200 and len(audio.content) == 44 + 2 * len(expected_audio("第一句。第二句。", 3))
    for folder in ("task", "done", "error"):  # the record lives in Redis; only the WAV is a file
        assert not list((tmp_path / folder).glob("*.json"))
    assert (tmp_path / "output" / "tasks" / "job-1.wav").exists()


def held_in_process(queue) -> int:
    """Items the task queue object keeps in its own containers (sets, dicts, lists, asyncio queues)."""
    sizes = [value.qsize() if isinstance(value, asyncio.Queue) else len(value)
             for value in vars(queue).values() if isinstance(value, (asyncio.Queue, set, dict, list, deque))]
    return sum(sizes)


def test_submissions_are_queued_in_redis_only_not_also_in_process_memory(tmp_path, redis_url):
    """With Redis the shared queue is the only one: a submission leaves nothing behind in the process that
    took it (an in-process queue nobody read grew by one id per task, without bound)."""
    with redis_app(tmp_path, redis_url, FakeEngine(segments=1, delay=0)) as client:
        queue = client.app.state.task_queue
        before = held_in_process(queue)
        for i in range(20):
            submit(client, task_body("u1", f"任务{i}。", task_id=f"m{i}"))
        for i in range(20):
            wait_status(client, f"m{i}", "u1")
        # A worker forgets its task just after writing it done: poll for that, then nothing may remain.
        wait_until(lambda: held_in_process(queue) == before, timeout=10)


# --- several processes, one queue ------------------------------------------------------------------
def test_two_apps_on_one_redis_never_run_a_task_twice(tmp_path, redis_url, hold):
    texts = [f"任务{i}。" for i in range(6)]
    first, second = FakeEngine(segments=2, hold=hold), FakeEngine(segments=2)
    with redis_app(tmp_path, redis_url, first) as a:
        for i, text in enumerate(texts):
            submit(a, task_body("u1", text, task_id=f"t{i}"))
        wait_running(a, "t0", "u1")  # a is held on t0; t1..t5 wait in a's queue
        with redis_app(tmp_path, redis_url, second) as b:  # b's start-up queues t1..t5 as well
            hold.set()  # now both race for t1..t5
            finals = [wait_status(b, f"t{i}", "u1") for i in range(len(texts))]
    assert all(t["status"] == "done" and t["attempts"] == 1 for t in finals)
    ran = first.calls + second.calls
    assert sorted(ran) == sorted(texts) and second.calls  # each exactly once, and b took a share


def test_concurrent_claims_from_two_backends_hand_each_task_out_once(redis_url):
    backends = [RedisTaskBackend.from_url(redis_url) for _ in range(2)]
    ids = [f"c{i}" for i in range(40)]
    for task_id in ids:
        assert backends[0].create(new_entry(task_id, "u1", {"text": "x"}))
    claimed: list[str] = []

    def dispatcher(backend):  # the shared dispatch path: pop an id, then claim decides
        while (task_id := backend.next_task(timeout=0.2)) is not None:
            for contender in backends:  # the losing claim must get None
                if contender.claim(task_id) is not None:
                    claimed.append(task_id)
                    contender.finish(task_id, "done")

    threads = [threading.Thread(target=dispatcher, args=(b,)) for b in backends for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)
    assert {e["status"] for e in backends[1].entries()} == {"done"}


def test_a_dead_workers_task_is_run_again_by_another_process(tmp_path, redis_url, hold):
    first, second = FakeEngine(segments=3, hold=hold), FakeEngine(segments=3)
    with redis_app(tmp_path, redis_url, first) as a:
        submit(a, task_body("u1", "接力。", task_id="relay"))
        wait_running(a, "relay", "u1")
        redis.Redis.from_url(redis_url).delete(lease_key("relay"))  # what expiry does after a kill -9
        with redis_app(tmp_path, redis_url, second) as b:
            done = wait_status(b, "relay", "u1")
            assert (done["status"], done["attempts"]) == ("done", 2)
        # a wakes up (its shutdown stops the held synthesis): fenced, it cannot requeue or touch the task
    entry = RedisTaskBackend.from_url(redis_url).get("relay")
    assert (entry["status"], entry["attempts"], entry["progress"]) == ("done", 2, 100)
    assert first.calls == second.calls == ["接力。"]
    assert (tmp_path / "output" / "tasks" / "relay.wav").exists()


def test_a_task_whose_workers_keep_dying_ends_interrupted(redis_url):
    backend = RedisTaskBackend.from_url(redis_url)
    backend.recover(MAX_ATTEMPTS)
    backend.create(new_entry("poison", "u1", {"text": "x"}))
    server = redis.Redis.from_url(redis_url)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        other = RedisTaskBackend.from_url(redis_url)  # a fresh process each time
        assert other.claim("poison")["attempts"] == attempt
        assert backend.recover(MAX_ATTEMPTS).queued == []  # its lease is fresh: not taken from it
        server.delete(lease_key("poison"))  # ... then it dies
        assert other.update("poison", progress=50) is None  # and, fenced, could not write if it woke up
        report = backend.recover(MAX_ATTEMPTS)
        assert report.queued == ([] if attempt == MAX_ATTEMPTS else ["poison"])
        other._release("poison")  # a dead process renews nothing: no heartbeat left to outlive Redis
    entry = backend.get("poison")
    assert report.interrupted == ["poison"] and (entry["status"], entry["reason"]) == ("error", "interrupted")


def test_store_contract_nothing_revives_a_finished_or_removed_task(redis_url):
    store = RedisTaskBackend.from_url(redis_url)
    store.recover(MAX_ATTEMPTS)
    assert store.create(new_entry("a", "u1", {"text": "x"}))
    assert not store.create(new_entry("a", "u2", {"text": "y"}))
    assert store.claim("a")["attempts"] == 1 and store.claim("a") is None
    assert store.update("a", progress=40)["progress"] == 40
    assert store.requeue("a", attempts=0)["status"] == "wait" and store.claim("a")["attempts"] == 1
    store.finish("a", "error", reason="cancelled")
    assert store.update("a", progress=50) is None and store.finish("a", "done") is None
    assert store.requeue("a") is None and store.get("a")["reason"] == "cancelled"
    assert [e["task_id"] for e in store.list_user("u1")] == ["a"] and store.list_user("u2") == []
    store.remove("a")
    assert store.get("a") is None and store.update("a", progress=1) is None and store.entries() == []
    with pytest.raises(ValueError):
        store.finish("a", "run")


def test_unreachable_redis_is_a_clear_error_at_start_up(tmp_path):
    settings = settings_for(tmp_path, redis_url=f"redis://:secret@127.0.0.1:{free_port()}/0")
    with pytest.raises(RedisUnavailable) as error:
        make_backend(settings)
    assert "cannot reach Redis" in str(error.value) and "secret" not in str(error.value)


def test_the_heartbeat_keeps_a_long_task_from_being_taken(redis_url, monkeypatch):
    lease = 3.0  # renewed every second: only a 3 s stall of the heartbeat thread could lose it
    owner = RedisTaskBackend.from_url(redis_url, lease_seconds=lease)
    renewals: list[bool] = []
    renew = owner._renew

    def counted(task_id: str, token: str) -> bool:
        renewals.append(renew(task_id, token))
        return renewals[-1]

    monkeypatch.setattr(owner, "_renew", counted)
    owner.create(new_entry("long", "u1", {"text": "x"}))
    claimed_at = time.monotonic()
    token = owner.claim("long") and redis.Redis.from_url(redis_url).get(lease_key("long"))
    other = RedisTaskBackend.from_url(redis_url)
    # Past the first lease's end, counted in renewals (each a third of a lease apart), not in sleeps.
    wait_until(lambda: len(renewals) >= 3 and time.monotonic() - claimed_at > lease, timeout=60)
    assert all(renewals)
    assert other.recover(MAX_ATTEMPTS).queued == [] and other.get("long")["status"] == "run"
    assert redis.Redis.from_url(redis_url).get(lease_key("long")) == token
    assert owner.finish("long", "done")["status"] == "done"
    wait_until(lambda: owner._heartbeat is None)  # the thread ends once nothing is held


def test_an_idle_process_takes_a_task_submitted_to_a_busy_one(tmp_path, redis_url, hold):
    busy, idle = FakeEngine(segments=2, hold=hold), FakeEngine(segments=2)
    with redis_app(tmp_path, redis_url, busy) as a:
        submit(a, task_body("u1", "第一个。", task_id="t1"))
        wait_running(a, "t1", "u1")  # a's only worker is held inside t1
        with redis_app(tmp_path, redis_url, idle) as b:
            submit(a, task_body("u1", "第二个。", task_id="t2"))  # submitted to the busy process
            assert wait_status(b, "t2", "u1")["status"] == "done"
            assert idle.calls == ["第二个。"] and busy.calls == ["第一个。"]
            assert a.get("/voice-tasks/t1", params={"user_id": "u1"}).json()["data"]["status"] == "run"
        hold.set()
        assert wait_status(a, "t1", "u1")["status"] == "done"
