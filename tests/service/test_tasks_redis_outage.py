"""Redis going away under a running service: stopped and started again empty (no persistence), or paused
(SIGSTOP), mid-task and while idle. The worker outlives it, every task still ends exactly once with its
result, a task the worker gives up on is released to another process, and /healthz says `degraded`
meanwhile. A real redis-server per test (support/redis_server.py); the engine is the test double, held
on an event so that "mid-task" is a known point, never a guessed delay.
"""
from __future__ import annotations


import pytest
import redis

from support.fake_engine import FakeEngine, expected_audio
from support.redis_server import RedisServer
from support.tasks import redis_app, task_body, wait_running, wait_status, wait_until
from tts_service.tasks import redis_backend, redis_client, retry

SEGMENTS = 3


@pytest.fixture
def server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    """Short back-off and command timeout (defaults 0.5-10 s and 3 s), so each outage is seen and
    outlived in seconds; the fetch still blocks 1 s, under the timeout."""
    monkeypatch.setattr(retry, "RETRY_FIRST", 0.05)
    monkeypatch.setattr(retry, "RETRY_MAX", 0.3)
    monkeypatch.setattr(redis_client, "SOCKET_TIMEOUT", redis_client.NEXT_TASK_BLOCK + 0.5)


def submit(client, task_id: str, text: str) -> None:
    reply = client.post("/voice-tasks", json=task_body("u1", text, task_id=task_id)).json()
    assert reply["code"] == 0, reply


def health(client) -> dict:
    return client.get("/healthz").json()


def assert_done_with_result(client, data_dir, task_id: str, text: str, attempts: int = 1) -> None:
    task = wait_status(client, task_id, "u1")
    assert (task["status"], task["progress"], task["attempts"]) == ("done", 100, attempts), task
    # The record says done a moment before the WAV is moved into place (409 until then).
    audio = wait_until(lambda: (reply := client.get(task["result_url"])).status_code == 200 and reply)
    assert len(audio.content) == 44 + 2 * len(expected_audio(text, SEGMENTS))
    assert not list((data_dir / "output" / "tasks").glob(".*.pending.wav"))  # nothing left half moved


def test_redis_restarted_empty_mid_task_every_task_completes_once(tmp_path, server, hold):
    engine = FakeEngine(segments=SEGMENTS, hold=hold)
    with redis_app(tmp_path, server.url, engine) as client:
        queue = client.app.state.task_queue
        submit(client, "t1", "第一句。")
        wait_running(client, "t1", "u1")  # held after its first segment
        submit(client, "t2", "第二句。")  # waits behind t1 (one worker)
        server.stop()
        hold.set()  # t1's last segments run with Redis gone: their progress is not recorded
        wait_until(queue.pending_audio_path("t1", 1).exists)  # synthesised; its final write is failing
        server.start()  # empty: the tasks come back from what the process knows
        assert_done_with_result(client, tmp_path, "t1", "第一句。")
        assert_done_with_result(client, tmp_path, "t2", "第二句。")
    assert engine.calls == ["第一句。", "第二句。"]  # each ran once


def test_after_an_empty_restart_a_task_another_process_finished_stays_done(tmp_path, server, hold, monkeypatch):
    """Two processes: a (busy) received t1, b ran it. Both knew t1; after the reset it comes back done,
    from b's copy, and is not run again from a's old `wait` copy (a's copy follows Redis meanwhile)."""
    monkeypatch.setattr(redis_backend, "LEASE_SECONDS", 2.0)  # reconcile (copy refresh) every 2/3 s
    busy, idle = FakeEngine(segments=SEGMENTS, hold=hold), FakeEngine(segments=SEGMENTS)
    with redis_app(tmp_path, server.url, busy) as a:
        submit(a, "t0", "忙着。")
        wait_running(a, "t0", "u1")
        with redis_app(tmp_path, server.url, idle) as b:
            submit(a, "t1", "交给另一个。")
            assert wait_status(b, "t1", "u1")["status"] == "done"
            copies = a.app.state.task_queue.backend.journal
            wait_until(lambda: "t1" not in [e["task_id"] for e in copies.entries()])  # a saw it end
            server.stop()
            server.start()  # empty
            hold.set()
            assert_done_with_result(a, tmp_path, "t0", "忙着。")
            assert_done_with_result(a, tmp_path, "t1", "交给另一个。")
    assert busy.calls == ["忙着。"] and idle.calls == ["交给另一个。"]


def test_redis_restarted_empty_while_idle_health_degraded_then_ok(tmp_path, server):
    with redis_app(tmp_path, server.url, FakeEngine(segments=SEGMENTS)) as client:
        queue = client.app.state.task_queue
        up = health(client)
        assert (up["status"], up["task_queue"]) == ("ok", {"backend": "redis", "ok": True})
        server.stop()
        down = wait_until(lambda: (report := health(client))["status"] == "degraded" and report)
        assert down["task_queue"]["ok"] is False and "unreachable" in down["task_queue"]["error"]
        assert down["tasks"]["queued"] is None and down["state"] == "ready"  # the rest of the report stays
        assert str(server.port) not in str(down)  # /healthz is public: no address
        wait_until(lambda: queue.loop_errors >= 2)  # the idle worker's fetch failed, and it tried again
        server.start()
        wait_until(lambda: health(client)["status"] == "ok")
        assert health(client)["task_queue"]["ok"] is True
        submit(client, "after", "恢复之后。")
        assert_done_with_result(client, tmp_path, "after", "恢复之后。")


def test_the_task_api_answers_busy_while_redis_is_away(tmp_path, server):
    """Submit, list, read and delete during an outage: 503, code 4 (busy) with Retry-After, no 500."""
    with redis_app(tmp_path, server.url, FakeEngine(segments=SEGMENTS)) as client:
        submit(client, "before", "停机之前。")
        assert_done_with_result(client, tmp_path, "before", "停机之前。")
        server.stop()
        calls = [("post", "/voice-tasks", {"json": task_body("u1", "停机时。", task_id="during")}),
                 ("get", "/voice-tasks", {"params": {"user_id": "u1"}}),
                 ("get", "/voice-tasks/before", {"params": {"user_id": "u1"}}),
                 ("delete", "/voice-tasks/before", {"params": {"user_id": "u1"}})]
        for method, path, kwargs in calls:
            reply = getattr(client, method)(path, **kwargs)
            assert (reply.status_code, reply.json()["code"]) == (503, 4), (method, path, reply.text)
            assert int(reply.headers["Retry-After"]) >= 1
        server.start()
        wait_until(lambda: health(client)["status"] == "ok")
        assert client.get("/voice-tasks/before", params={"user_id": "u1"}).json()["code"] == 0


def test_redis_paused_while_idle_then_resumed(tmp_path, server):
    with redis_app(tmp_path, server.url, FakeEngine(segments=SEGMENTS)) as client:
        queue = client.app.state.task_queue
        submit(client, "before", "暂停之前。")
        assert_done_with_result(client, tmp_path, "before", "暂停之前。")
        server.pause()
        down = wait_until(lambda: (report := health(client))["status"] == "degraded" and report)
        assert "did not answer" in down["task_queue"]["error"]
        wait_until(lambda: queue.loop_errors >= 1)  # the fetch timed out; the worker lives on
        server.resume()
        wait_until(lambda: health(client)["status"] == "ok")
        submit(client, "after", "暂停之后。")
        assert_done_with_result(client, tmp_path, "after", "暂停之后。")
        assert client.get("/voice-tasks/before", params={"user_id": "u1"}).json()["data"]["status"] == "done"


def test_a_task_given_up_during_an_outage_is_released_and_runs_again(tmp_path, server, hold, monkeypatch):
    """The worker stops (shutdown) while Redis is paused under its final write: nothing final is written,
    and its claim is let go (no more lease renewals), so another process runs the task once the lease
    has lapsed, instead of the heartbeat keeping a task nobody runs alive forever."""
    monkeypatch.setattr(redis_backend, "LEASE_SECONDS", 2.0)
    first, second = FakeEngine(segments=SEGMENTS, hold=hold), FakeEngine(segments=SEGMENTS)
    with redis_app(tmp_path, server.url, first) as a:
        submit(a, "t1", "接力。")
        wait_running(a, "t1", "u1")
        server.pause()
        hold.set()
        wait_until(a.app.state.task_queue.pending_audio_path("t1", 1).exists)
    # a has shut down, its worker gave up on the final write
    server.resume()
    with redis_app(tmp_path, server.url, second) as b:
        assert_done_with_result(b, tmp_path, "t1", "接力。", attempts=2)
    assert first.calls == second.calls == ["接力。"]


def test_a_task_whose_final_write_keeps_failing_is_let_go_until_max_attempts(tmp_path, server, monkeypatch):
    """Not an outage but a write that always raises: the worker lets the claim go, so the heartbeat
    stops, the lease lapses and the task is reaped and tried again, until task_max_attempts end it."""
    monkeypatch.setattr(redis_backend, "LEASE_SECONDS", 2.0)
    engine = FakeEngine(segments=SEGMENTS)
    with redis_app(tmp_path, server.url, engine) as client:
        backend = client.app.state.task_queue.backend

        def finish_raising(task_id, status, **changes):
            raise ValueError("a record Redis will not take")

        backend.finish = finish_raising
        submit(client, "t1", "写不进去。")
        final = wait_status(client, "t1", "u1")
        assert (final["status"], final["reason"], final["attempts"]) == ("error", "interrupted", 3)
        assert engine.calls == ["写不进去。"] * 3


def test_a_final_write_whose_reply_was_lost_keeps_its_result(tmp_path, server):
    """The finish reached Redis but the connection dropped before the reply (redis-py then retries the
    transaction, which finds the task done): the worker must still move its result into place."""
    with redis_app(tmp_path, server.url, FakeEngine(segments=SEGMENTS)) as client:
        backend = client.app.state.task_queue.backend
        real_finish, calls = backend.finish, []

        def finish_then_drop(task_id, status, **changes):
            calls.append(status)
            result = real_finish(task_id, status, **changes)
            if len(calls) == 1:
                raise redis.ConnectionError("connection reset after EXEC")
            return result

        backend.finish = finish_then_drop
        submit(client, "t1", "回复丢失。")
        assert_done_with_result(client, tmp_path, "t1", "回复丢失。")
        assert calls == ["done", "done"]


def test_an_unexpected_error_in_the_worker_loop_is_survived(tmp_path, server):
    with redis_app(tmp_path, server.url, FakeEngine(segments=SEGMENTS)) as client:
        queue = client.app.state.task_queue
        real_next, failures = queue.backend.next_task, []

        def next_task_failing_twice(*args, **kwargs):
            if len(failures) < 2:
                failures.append(1)
                raise RuntimeError("a bug in one iteration")
            return real_next(*args, **kwargs)

        queue.backend.next_task = next_task_failing_twice
        wait_until(lambda: len(failures) == 2)  # the second only comes if the first left the worker alive
        submit(client, "t1", "照常。")
        assert_done_with_result(client, tmp_path, "t1", "照常。")
        assert queue.loop_errors == 2  # each logged and counted
