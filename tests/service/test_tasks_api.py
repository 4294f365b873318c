"""The /voice-tasks endpoints in process (TestClient + the test engine): lifecycle, cancel, users, paging."""
from __future__ import annotations

import contextlib
import io
import time
import wave

import numpy as np
import pytest
from fastapi.testclient import TestClient

from support.fake_engine import FakeEngine, expected_audio
from support.tasks import get_task, read_all, settings_for, task_body, wait_running, wait_status, wait_until
from tts_service.app import create_app
from tts_service.envelope import BUSY
from tts_service.tasks import retention

SEGMENTS = 3


@contextlib.contextmanager
def running_app(data_dir, engine=None, **settings):
    app = create_app(settings_for(data_dir, **settings), engine=engine or FakeEngine(segments=SEGMENTS))
    with TestClient(app) as client:
        yield client


def submit(client, body) -> dict:
    reply = client.post("/voice-tasks", json=body).json()
    assert reply["code"] == 0, reply
    return reply["data"]


def test_submit_runs_to_done_with_progress_and_wav(tmp_path, hold):
    with running_app(tmp_path, FakeEngine(segments=SEGMENTS, hold=hold)) as client:
        task = submit(client, task_body("u1", "第一句。第二句。", task_id="job-1"))
        assert (task["task_id"], task["status"], task["progress"]) == ("job-1", "wait", 0)

        midway = wait_running(client, "job-1", "u1")  # held after its first segment
        assert (midway["segments_done"], midway["total_segments"]) == (1, SEGMENTS)
        assert midway["progress"] == 100 // SEGMENTS and midway["attempts"] == 1
        hold.set()

        done = wait_status(client, "job-1", "u1")
        assert done["status"] == "done" and done["reason"] is None and done["error"] is None
        assert (done["segments_done"], done["total_segments"], done["progress"]) == (SEGMENTS, SEGMENTS, 100)
        assert done["finished_at"] >= done["started_at"] >= done["created_at"]

        audio = client.get(done["result_url"])
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
        assert 'filename="job-1.wav"' in audio.headers["content-disposition"]
        with wave.open(io.BytesIO(audio.content)) as wav:
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
            assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        np.testing.assert_array_equal(samples, expected_audio("第一句。第二句。", SEGMENTS))

    assert read_all(tmp_path)["job-1"]["status"] == "done"
    log = (tmp_path / "Logs" / "tasks" / "job-1.log").read_text(encoding="utf-8")
    for line in ("wait user_id=u1", "start attempt=1", f"progress 1/{SEGMENTS}", "done result=job-1.wav"):
        assert line in log


def test_server_makes_an_id_and_refuses_a_second_submit_of_one(tmp_path):
    engine = FakeEngine(segments=1)
    with running_app(tmp_path, engine) as client:
        made = submit(client, task_body("u1", "自动编号。"))
        assert made["task_id"].startswith("T") and len(made["task_id"]) > 6
        submit(client, task_body("u1", "一次。", task_id="dup"))
        for user in ("u1", "someone-else"):  # the id is taken whoever asks
            reply = client.post("/voice-tasks", json=task_body(user, "两次。", task_id="dup"))
            assert reply.status_code == 409 and reply.json()["code"] == 2
        wait_status(client, "dup", "u1")
        wait_status(client, made["task_id"], "u1")
    assert engine.calls.count("一次。") == 1 and "两次。" not in engine.calls
    assert read_all(tmp_path)["dup"]["text"] == "一次。"


def test_cancel_waiting_task_removes_it(tmp_path, hold):
    engine = FakeEngine(segments=SEGMENTS, hold=hold)
    with running_app(tmp_path, engine) as client:
        submit(client, task_body("u1", "先跑。", task_id="first"))
        wait_running(client, "first", "u1")
        submit(client, task_body("u1", "排队。", task_id="second"))
        reply = client.delete("/voice-tasks/second", params={"user_id": "u1"}).json()
        assert reply["code"] == 0 and reply["data"] == {"removed": True, "cancelled": True}
        assert get_task(client, "second", "u1") is None
        hold.set()
        wait_status(client, "first", "u1")
        assert client.get("/voice-tasks", params={"user_id": "u1"}).json()["data"]["total"] == 1
    assert "排队。" not in engine.calls
    assert set(read_all(tmp_path)) == {"first"}


def test_cancel_running_task_ends_cancelled_and_never_comes_back(tmp_path, hold):
    with running_app(tmp_path, FakeEngine(segments=SEGMENTS, hold=hold)) as client:
        submit(client, task_body("u1", "长文本。", task_id="long"))
        wait_running(client, "long", "u1")
        reply = client.delete("/voice-tasks/long", params={"user_id": "u1"}).json()
        assert reply["code"] == 0 and reply["data"]["removed"] is False and reply["data"]["cancelled"] is True
        assert (reply["data"]["task"]["status"], reply["data"]["task"]["reason"]) == ("error", "cancelled")
        # The synthesis stops at its next check; nothing it does afterwards may revive the task.
        wait_until(lambda: client.get("/healthz").json()["tasks"]["running"] == [])
        task = get_task(client, "long", "u1")
        assert (task["status"], task["reason"], task["segments_done"]) == ("error", "cancelled", 1)
        assert client.get("/voice-tasks/long/audio", params={"user_id": "u1"}).json()["code"] == 2
        # A second DELETE removes the finished record for good.
        assert client.delete("/voice-tasks/long", params={"user_id": "u1"}).json()["data"]["removed"] is True
        assert get_task(client, "long", "u1") is None
    assert read_all(tmp_path) == {}
    with running_app(tmp_path) as client:  # and a restart does not bring it back either
        assert get_task(client, "long", "u1") is None
        assert client.get("/voice-tasks", params={"user_id": "u1"}).json()["data"]["total"] == 0
    assert not list((tmp_path / "output" / "tasks").glob("*.wav"))


def test_other_users_tasks_are_invisible(tmp_path):
    with running_app(tmp_path) as client:
        submit(client, task_body("alice", "私有。", task_id="mine"))
        wait_status(client, "mine", "alice")
        assert get_task(client, "mine", "bob") is None
        assert client.get("/voice-tasks/mine", params={"user_id": "bob"}).status_code == 404
        assert client.get("/voice-tasks", params={"user_id": "bob"}).json()["data"]["total"] == 0
        assert client.get("/voice-tasks", params={"user_id": "bob", "ids": "mine"}).json()["data"]["data"] == []
        assert client.post("/voice-tasks/query", json={"user_id": "bob", "task_ids": ["mine"]}).json()["data"]["total"] == 0
        assert client.get("/voice-tasks/mine/audio", params={"user_id": "bob"}).status_code == 404
        assert client.delete("/voice-tasks/mine", params={"user_id": "bob"}).json()["data"]["removed"] is False
        assert get_task(client, "mine", "alice")["status"] == "done"
        # Without a user id nothing is answered at all.
        for reply in (client.get("/voice-tasks/mine"), client.get("/voice-tasks"),
                      client.delete("/voice-tasks/mine")):
            assert reply.json()["code"] == 3 and reply.json()["message"] == "缺少 user_id"


def test_paging_and_id_queries(tmp_path):
    ids = [f"p{i}" for i in range(7)]
    with running_app(tmp_path, FakeEngine(segments=1, delay=0)) as client:
        for task_id in ids:
            submit(client, task_body("u1", f"第{task_id}条。", task_id=task_id))
        submit(client, task_body("u2", "别人的。", task_id="other"))
        pages = [client.get("/voice-tasks", params={"user_id": "u1", "page": p, "page_size": 3}).json()["data"]
                 for p in (1, 2, 3)]
        assert [len(p["data"]) for p in pages] == [3, 3, 1] and {p["total"] for p in pages} == {7}
        assert [(p["pageIndex"], p["pageSize"]) for p in pages] == [(1, 3), (2, 3), (3, 3)]
        listed = [t["task_id"] for p in pages for t in p["data"]]
        assert sorted(listed) == sorted(ids)  # every task once, none from another user
        newest = [(t["created_at"], t["task_id"]) for p in pages for t in p["data"]]
        assert newest == sorted(newest, reverse=True)
        clamped = client.get("/voice-tasks", params={"user_id": "u1", "page": 0, "page_size": 1000}).json()["data"]
        assert (clamped["pageIndex"], clamped["pageSize"], len(clamped["data"])) == (1, 100, 7)

        by_ids = client.get("/voice-tasks", params={"user_id": "u1", "ids": "p3,p1 nope", "task_ids": "p5，p3",
                                                    "task_id": "other"}).json()["data"]
        assert [t["task_id"] for t in by_ids["data"]] == ["p3", "p1", "p5", "p3"]
        assert (by_ids["total"], by_ids["pageIndex"], by_ids["pageSize"]) == (4, 1, 4)
        queried = client.post("/voice-tasks/query", json={"user_id": "u1", "task_ids": ["p6", "p0"]}).json()["data"]
        assert [t["task_id"] for t in queried["data"]] == ["p6", "p0"]
        paged = client.post("/voice-tasks/query", json={"user_id": "u1", "page": 2, "page_size": 5}).json()["data"]
        assert (paged["total"], len(paged["data"])) == (7, 2)


def test_failed_task_keeps_its_message(tmp_path):
    with running_app(tmp_path) as client:
        submit(client, task_body("u1", "FAIL 这一句。", task_id="bad"))
        task = wait_status(client, "bad", "u1")
    assert (task["status"], task["reason"], task["error"]) == ("error", "failed", "文本无法合成（测试）")
    assert read_all(tmp_path)["bad"]["reason"] == "failed"
    assert "failed: 文本无法合成" in (tmp_path / "Logs" / "tasks" / "bad.log").read_text(encoding="utf-8")


@pytest.mark.parametrize("change, code", [
    ({"user_id": " "}, 3), ({"task_id": "../escape"}, 3), ({"task_id": "a" * 65}, 3),
    ({"text_language": "klingon"}, 3), ({"how_to_cut": "cut9"}, 3), ({"text": ""}, 3),
    ({"ref_wav_path": "/etc/passwd"}, 3), ({"model_id": "no-such-model", "ref_wav_path": None}, 2),
])
def test_bad_submissions_are_refused_before_queueing(tmp_path, change, code):
    with running_app(tmp_path) as client:
        reply = client.post("/voice-tasks", json={**task_body("u1", task_id="t1"), **change}).json()
        assert reply["code"] == code
    assert read_all(tmp_path) == {}


def test_retention_removes_finished_tasks_and_their_files(tmp_path, hold):
    with running_app(tmp_path, FakeEngine(segments=SEGMENTS, hold=hold), task_retention=3600) as client:
        submit(client, task_body("u1", "旧的。", task_id="old"))
        submit(client, task_body("u1", "FAIL 旧的。", task_id="old-bad"))
        hold.set()
        wait_status(client, "old", "u1"), wait_status(client, "old-bad", "u1")
        hold.clear()  # before `busy` exists, so it cannot run past its first segment meanwhile
        submit(client, task_body("u1", "还在跑。", task_id="busy"))
        submit(client, task_body("u1", "还在等。", task_id="waiting"))
        wait_running(client, "busy", "u1")
        queue = client.app.state.task_queue
        assert retention.sweep(queue, 3600, now=time.time()) == []  # nothing is old yet
        removed = retention.sweep(queue, 3600, now=time.time() + 2 * 3600)
        assert sorted(removed) == ["old", "old-bad"]
        assert get_task(client, "old", "u1") is None
        assert {t["task_id"] for t in client.get("/voice-tasks", params={"user_id": "u1"}).json()["data"]["data"]} \
            == {"busy", "waiting"}
        assert retention.sweep(queue, 0, now=time.time() + 10**9) == []  # <= 0 keeps everything
        hold.set()
    assert not (tmp_path / "output" / "tasks" / "old.wav").exists()
    assert not (tmp_path / "Logs" / "tasks" / "old.log").exists()
    assert set(read_all(tmp_path)) == {"busy", "waiting"}


def test_retention_spares_a_task_submitted_again_under_a_listed_id(tmp_path, hold):
    """The sweep lists the tasks, then removes the expired ones; a task deleted and submitted again under
    the same id in between is a new task, and neither goes nor is cancelled."""
    with running_app(tmp_path, FakeEngine(segments=SEGMENTS, hold=hold), task_retention=3600) as client:
        submit(client, task_body("u1", "旧的。", task_id="again"))
        hold.set()
        wait_status(client, "again", "u1")
        hold.clear()
        queue = client.app.state.task_queue
        listed = queue.backend.entries

        def listing_then_resubmitted() -> list[dict]:
            snapshot = listed()
            assert client.delete("/voice-tasks/again", params={"user_id": "u1"}).json()["data"]["removed"]
            submit(client, task_body("u1", "新的。", task_id="again"))
            return snapshot

        queue.backend.entries = listing_then_resubmitted  # this app's backend only
        assert retention.sweep(queue, 3600, now=time.time() + 2 * 3600) == []
        task = get_task(client, "again", "u1")
        assert task is not None and task["text"] == "新的。" and task["status"] in ("wait", "run"), task
        hold.set()
        assert wait_status(client, "again", "u1")["status"] == "done"


def test_health_shows_queue_length_and_running_task(tmp_path, hold):
    with running_app(tmp_path, FakeEngine(segments=SEGMENTS, hold=hold)) as client:
        submit(client, task_body("u1", "一。", task_id="h1"))
        wait_running(client, "h1", "u1")
        submit(client, task_body("u1", "二。", task_id="h2"))
        submit(client, task_body("u1", "三。", task_id="h3"))
        tasks = client.get("/healthz").json()["tasks"]
        assert tasks["queued"] == 2 and tasks["workers"] == 1
        assert [t["task_id"] for t in tasks["running"]] == ["h1"]
        hold.set()


def test_missing_weights_end_the_task_with_the_engine_message(tmp_path):
    """The real Engine, no weight files: the task fails with the same message as /synthesize."""
    missing = tmp_path / "no-weights"
    paths = {key: str(missing / key) for key in ("gpt_path", "sovits_path", "cnhubert_base_path", "bert_path")}
    settings = settings_for(tmp_path / "data", **paths)
    with TestClient(create_app(settings)) as client:
        submit(client, task_body("u1", "没有权重。", task_id="nw"))
        task = wait_status(client, "nw", "u1")
        direct = client.post("/synthesize", json=task_body("u1", "没有权重。")).json()
    assert (task["status"], task["reason"]) == ("error", "failed")
    assert task["error"] == direct["message"] and "gpt_path" in task["error"]


def test_start_up_completes_a_result_left_unmoved_by_a_crash(tmp_path):
    with running_app(tmp_path) as client:
        submit(client, task_body("u1", "你好。", task_id="T1"))
        assert wait_status(client, "T1", "u1")["status"] == "done"
        queue = client.app.state.task_queue
        final = queue.audio_path("T1")
        expected = final.read_bytes()
    # A crash between finish() and the move leaves the result under its attempt's name; another file
    # belongs to a task that no longer exists.
    final.rename(queue.pending_audio_path("T1", 1))
    queue.pending_audio_path("gone", 1).write_bytes(b"RIFF")
    with running_app(tmp_path) as client:
        assert client.get("/voice-tasks/T1/audio", params={"user_id": "u1"}).content == expected
    assert sorted(p.name for p in final.parent.iterdir()) == ["T1.wav"]


# --- limits: unfinished tasks in all and per user, record size (also run on Redis) ---------------------
def assert_busy(reply) -> dict:
    body = reply.json()
    assert (reply.status_code, body["code"]) == (429, BUSY), (reply.status_code, body)
    assert body["message"] and int(reply.headers["Retry-After"]) >= 1
    assert body["data"]["retry_after"] == int(reply.headers["Retry-After"])
    return body


def test_per_user_limit_refuses_with_429_until_the_users_tasks_finish(tmp_path, hold):
    with running_app(tmp_path, FakeEngine(segments=SEGMENTS, hold=hold), max_waiting_tasks_per_user=2) as client:
        submit(client, task_body("u1", "一。", task_id="a1"))
        wait_running(client, "a1", "u1")  # running counts as unfinished
        submit(client, task_body("u1", "二。", task_id="a2"))
        assert "2" in assert_busy(client.post("/voice-tasks", json=task_body("u1", "三。", task_id="a3")))["message"]
        assert get_task(client, "a3", "u1") is None
        submit(client, task_body("u2", "别人的。", task_id="b1"))  # another user still has room
        hold.set()
        for task_id, user in (("a1", "u1"), ("a2", "u1"), ("b1", "u2")):
            wait_status(client, task_id, user)
        submit(client, task_body("u1", "三。", task_id="a3"))  # finished tasks no longer count
        wait_status(client, "a3", "u1")
    assert set(read_all(tmp_path)) == {"a1", "a2", "a3", "b1"}


def test_total_limit_counts_every_users_unfinished_tasks(tmp_path, hold):
    with running_app(tmp_path, FakeEngine(segments=SEGMENTS, hold=hold), max_waiting_tasks=2) as client:
        submit(client, task_body("u1", "一。", task_id="t1"))
        wait_running(client, "t1", "u1")
        submit(client, task_body("u2", "二。", task_id="t2"))
        assert_busy(client.post("/voice-tasks", json=task_body("u3", "三。", task_id="t3")))
        assert client.delete("/voice-tasks/t2", params={"user_id": "u2"}).json()["data"]["removed"] is True
        submit(client, task_body("u3", "三。", task_id="t3"))  # a deleted waiting task frees its place
        assert_busy(client.post("/voice-tasks", json=task_body("u4", "四。", task_id="t4")))
        hold.set()
        wait_status(client, "t1", "u1"), wait_status(client, "t3", "u3")
        submit(client, task_body("u4", "四。", task_id="t4"))
        wait_status(client, "t4", "u4")
    assert set(read_all(tmp_path)) == {"t1", "t3", "t4"}


def test_an_oversized_task_record_is_refused_and_not_stored(tmp_path):
    with running_app(tmp_path, max_task_record_kb=1) as client:
        reply = client.post("/voice-tasks", json=task_body("u1", "长" * 400, task_id="big"))  # 1.2 KB of text
        body = reply.json()
        assert (reply.status_code, body["code"]) == (413, 3) and "1 KiB" in body["message"], body
        assert get_task(client, "big", "u1") is None
        submit(client, task_body("u1", "短。", task_id="small"))
        wait_status(client, "small", "u1")
    assert set(read_all(tmp_path)) == {"small"}
