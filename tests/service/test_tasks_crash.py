"""The real server in a subprocess: kill -9 in the middle of a run, start again, nothing lost or doubled;
then many clients at once against one server. The engine is the slow test double (no models); where a
test must act while a task runs, the task is held after its first segment (a hold file) instead of
hoping the kill lands inside a fraction of a second."""
from __future__ import annotations

import io
import json
import threading
import wave
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from support.fake_engine import expected_audio
from support.task_server import ServerProcess
from support.tasks import REF, read_all, task_files, wait_until

pytestmark = [pytest.mark.server, pytest.mark.slow]

SEGMENTS = 4


def prepared_dir(tmp_path):
    data = tmp_path / "data"
    (data / "audio").mkdir(parents=True)
    (data / "audio" / "ref.wav").write_bytes(b"RIFF")
    return data


def body(task_id: str, user_id: str = "u1") -> dict:
    return {"user_id": user_id, "task_id": task_id, "text": f"任务 {task_id}。", "ref_wav_path": REF}


def fetch(client: httpx.Client, task_id: str, user_id: str = "u1") -> dict | None:
    reply = client.get(f"/voice-tasks/{task_id}", params={"user_id": user_id}).json()
    return reply["data"] if reply["code"] == 0 else None


def test_kill_9_mid_run_then_restart_loses_and_doubles_nothing(tmp_path):
    data = prepared_dir(tmp_path)
    ids = [f"c{i}" for i in range(5)]
    server = ServerProcess(data, segments=SEGMENTS, delay=0.02, hold_file=tmp_path / "never").start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for task_id in ids:
                assert client.post("/voice-tasks", json=body(task_id)).json()["code"] == 0
            # The first task is held after its first segment: the kill lands inside its synthesis.
            wait_until(lambda: (fetch(client, "c0") or {}).get("segments_done", 0) >= 1)
            server.kill()
    finally:
        server.kill()

    # What the crash left: every task exactly once, each file whole (no torn JSON), c0 still `run`.
    left = read_all(data)
    assert set(left) == set(ids)
    assert left["c0"]["status"] == "run" and left["c0"]["attempts"] == 1
    assert all(left[t]["status"] == "wait" for t in ids[1:])

    server = ServerProcess(data, segments=SEGMENTS, delay=0.02).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            final = {t: wait_until(lambda t=t: (lambda e: e if e and e["status"] in ("done", "error") else None)(
                fetch(client, t))) for t in ids}
            listing = client.get("/voice-tasks", params={"user_id": "u1", "page_size": 100}).json()["data"]
            audio = client.get(final["c0"]["result_url"]).content
    finally:
        server.stop()

    assert all(task["status"] == "done" for task in final.values()), final
    assert final["c0"]["attempts"] == 2 and all(final[t]["attempts"] == 1 for t in ids[1:])
    assert sorted(t["task_id"] for t in listing["data"]) == sorted(ids) and listing["total"] == len(ids)
    on_disk = task_files(data)
    assert sorted(on_disk) == sorted(ids) and all(len(p) == 1 and p[0].parent.name == "done" for p in on_disk.values())
    assert not [p for folder in ("task", "done", "error", "output/tasks") for p in (data / folder).glob(".*")]
    with wave.open(io.BytesIO(audio)) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    np.testing.assert_array_equal(samples, expected_audio(body("c0")["text"], SEGMENTS))
    log = (data / "Logs" / "tasks" / "c0.log").read_text(encoding="utf-8")
    assert log.count("start attempt=") == 2 and "queued again after a restart" in log


def test_a_task_that_keeps_crashing_the_server_ends_interrupted(tmp_path):
    data = prepared_dir(tmp_path)
    for attempt in (1, 2):  # each start runs it up to the hold, and dies there
        server = ServerProcess(data, segments=SEGMENTS, delay=0.02, max_attempts=2,
                               hold_file=tmp_path / "never").start()
        try:
            with httpx.Client(base_url=server.url, timeout=10) as client:
                if attempt == 1:
                    client.post("/voice-tasks", json=body("crashy"))
                wait_until(lambda: (fetch(client, "crashy") or {}).get("attempts") == attempt
                           and fetch(client, "crashy")["segments_done"] >= 1)
        finally:
            server.kill()
    server = ServerProcess(data, segments=SEGMENTS, delay=0.02, max_attempts=2).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            task = fetch(client, "crashy")
    finally:
        server.stop()
    assert (task["status"], task["reason"], task["attempts"]) == ("error", "interrupted", 2)
    assert read_all(data)["crashy"]["status"] == "error"


def test_many_clients_submitting_polling_and_deleting_at_once(tmp_path):
    data = prepared_dir(tmp_path)
    users, per_user = [f"user{i}" for i in range(8)], 6
    server = ServerProcess(data, segments=2, delay=0.005, workers=2).start()
    errors: list[str] = []
    lock = threading.Lock()

    def client_session(user: str) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            mine = [f"{user}-t{i}" for i in range(per_user)]
            for task_id in mine:
                reply = client.post("/voice-tasks", json=body(task_id, user)).json()
                again = client.post("/voice-tasks", json=body(task_id, "intruder")).json()
                listed = client.get("/voice-tasks", params={"user_id": user, "page_size": 100}).json()["data"]
                seen = [t["task_id"] for t in listed["data"]]
                if reply["code"] != 0 or again["code"] != 2 or len(seen) != len(set(seen)) or \
                        any(t["user_id"] != user for t in listed["data"]) or task_id not in seen:
                    with lock:
                        errors.append(f"{task_id}: {reply} {again} {seen}")
            client.delete(f"/voice-tasks/{mine[-1]}", params={"user_id": user})
            for task_id in mine[:-1]:
                wait_until(lambda: (fetch(client, task_id, user) or {}).get("status") in ("done", "error"))

    try:
        with ThreadPoolExecutor(len(users)) as pool:
            list(pool.map(client_session, users))
        with httpx.Client(base_url=server.url, timeout=30) as client:
            listings = {u: client.get("/voice-tasks", params={"user_id": u, "page_size": 100}).json()["data"]
                        for u in users}
            health = client.get("/healthz").json()["tasks"]
    finally:
        server.stop()

    assert errors == []
    entries = read_all(data)  # one whole file per task, in the folder of its status
    for user in users:
        from_api = {t["task_id"]: t for t in listings[user]["data"]}
        from_disk = {tid: e for tid, e in entries.items() if e["user_id"] == user}
        assert from_api.keys() == from_disk.keys() and listings[user]["total"] == len(from_disk)
        assert all(from_api[t]["status"] == from_disk[t]["status"] for t in from_api)
        # The last task was deleted right after submission: gone if it was still waiting, otherwise
        # cancelled; every other task ran exactly once to the end.
        assert len(from_disk) in (per_user - 1, per_user)
        assert all(e["status"] == "done" and e["attempts"] == 1 for t, e in from_disk.items() if not t.endswith(f"t{per_user - 1}"))
    assert health["queued"] == 0 and health["running"] == []
    assert not list((data / "task").glob("*.json"))
    assert json.loads((data / "voice_models.json").read_text()) == []


def test_a_clean_shutdown_puts_the_running_task_back_without_using_an_attempt(tmp_path):
    data = prepared_dir(tmp_path)
    server = ServerProcess(data, segments=SEGMENTS, delay=0.02, hold_file=tmp_path / "never").start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            client.post("/voice-tasks", json=body("gentle"))
            wait_until(lambda: (fetch(client, "gentle") or {}).get("segments_done", 0) >= 1)
    finally:
        server.stop()  # SIGTERM: the app's shutdown runs
    entry = read_all(data)["gentle"]
    assert (entry["status"], entry["attempts"]) == ("wait", 0)
    assert "stopped by a shutdown" in (data / "Logs" / "tasks" / "gentle.log").read_text(encoding="utf-8")
