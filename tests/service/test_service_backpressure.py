"""Back-pressure on syntheses run on request: at most `max_syntheses` run and `max_synthesis_waiting`
wait (each at most `synthesis_wait` s); every other call is refused at once with 503 + Retry-After
(code BUSY; OpenAI's shape on /v1). Meanwhile /healthz and the listing routes still answer.

The engine is held on an event, so "while every slot is taken" is a fact, not a guess about timing;
each held request is bounded by a generous deadline so that a broken build fails instead of hanging.
"""
from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from service_helpers import create_model

from support.engine_double import SAMPLE_RATE, EngineDouble
from support.tasks import REF, settings_for, wait_until
from test_streaming_order import serve
from tts_service.app import create_app
from tts_service.engine import AudioStream
from tts_service.envelope import BUSY

DEADLINE = 60.0  # seconds; generous: only a request that never comes back reaches it
HOLD_BOUND = 3 * DEADLINE  # the engine lets go by itself only after a test has failed on DEADLINE
BODY = {"ref_wav_path": REF, "text": "你好。"}
# anyio's shared thread pool, which FastAPI uses for sync routes and dependencies. More concurrent calls
# than that: were syntheses run there, the held ones would take every thread and /healthz would wait.
SHARED_POOL = 40
CROWD = 45
LISTINGS = ("/healthz", "/voice-models", "/voice-categories", "/voice-tasks?user_id=u1", "/v1/audio/voices",
            "/v1/models")


class BlockingEngine(EngineDouble):
    """Each synthesis, whole or streamed (after its first segment), waits for `release`."""

    def __init__(self):
        self.release = threading.Event()
        self.started = 0
        self._lock = threading.Lock()

    def _segment(self) -> np.ndarray:
        return np.full(SAMPLE_RATE // 10, 1000, dtype=np.int16)

    def synthesize(self, options, on_progress=None, should_cancel=None):
        with self._lock:
            self.started += 1
        self.release.wait(HOLD_BOUND)
        return SAMPLE_RATE, self._segment()

    def stream(self, options, should_cancel=None) -> AudioStream:
        return AudioStream(SAMPLE_RATE, self._segments())

    def _segments(self):
        with self._lock:
            self.started += 1
        yield self._segment()
        self.release.wait(HOLD_BOUND)
        yield self._segment()


@pytest.fixture
def engine():
    engine = BlockingEngine()
    yield engine
    engine.release.set()  # never leave a thread held


@contextlib.contextmanager
def running(tmp_path, engine, **settings):
    app = create_app(settings_for(tmp_path / "data", **settings), engine=engine)
    with TestClient(app) as client, ThreadPoolExecutor(CROWD + 8) as pool:
        try:
            yield client, pool
        finally:
            engine.release.set()  # before the pool waits for its calls, also when a test failed


def slots(client) -> dict:
    return client.app.state.synthesis_slots.status()


def assert_busy(reply) -> dict:
    body = reply.json()
    assert (reply.status_code, body["code"]) == (503, BUSY), (reply.status_code, body)
    assert body["message"] and int(reply.headers["Retry-After"]) >= 1
    return body


def answered(future: Future):
    """The reply, as long as it comes before the deadline (the engine is still held meanwhile)."""
    return future.result(timeout=DEADLINE)


def test_excess_calls_get_503_at_once_while_health_and_listings_answer(tmp_path, engine):
    with running(tmp_path, engine, max_syntheses=2, max_synthesis_waiting=3, synthesis_wait=DEADLINE) as (client, pool):
        calls = [pool.submit(client.post, "/synthesize", json=BODY) for _ in range(CROWD)]
        # 2 run, 3 wait, and every other call is answered while those 5 are still held
        wait_until(lambda: sum(f.done() for f in calls) == CROWD - 5 and engine.started == 2, timeout=DEADLINE)
        for future in (f for f in calls if f.done()):
            assert_busy(future.result())
        assert slots(client) == {"slots": 2, "running": 2, "waiting": 3, "max_waiting": 3}

        for path in LISTINGS:
            reply = answered(pool.submit(client.get, path))
            assert reply.status_code == 200, (path, reply.text)
        assert answered(pool.submit(client.get, "/healthz")).json()["synthesis"]["running"] == 2
        query = answered(pool.submit(client.post, "/voice-tasks/query", json={"user_id": "u1", "task_ids": ["x"]}))
        assert query.json()["code"] == 0
        assert engine.started == 2 and not engine.release.is_set()

        engine.release.set()
        admitted = [answered(f) for f in calls if f not in {c for c in calls if c.done() and
                                                             c.result().status_code == 503}]
        assert [r.status_code for r in admitted] == [200] * 5 and engine.started == 5
        assert client.post("/synthesize", json=BODY).status_code == 200  # free again
        assert slots(client)["running"] == 0


def test_health_and_listings_answer_while_more_syntheses_run_than_the_shared_pool_has_threads(tmp_path, engine):
    with running(tmp_path, engine, max_syntheses=CROWD, max_synthesis_waiting=0) as (client, pool):
        calls = [pool.submit(client.post, "/synthesize", json=BODY) for _ in range(CROWD)]
        wait_until(lambda: engine.started >= SHARED_POOL, timeout=DEADLINE)
        for path in LISTINGS:
            reply = answered(pool.submit(client.get, path))
            assert reply.status_code == 200, (path, reply.text)
        assert not engine.release.is_set() and not any(f.done() for f in calls)
        engine.release.set()
        assert [answered(f).status_code for f in calls] == [200] * CROWD


def test_a_waiter_gives_up_after_synthesis_wait_and_a_full_queue_refuses_at_once(tmp_path, engine):
    with running(tmp_path, engine, max_syntheses=1, max_synthesis_waiting=1, synthesis_wait=0.3) as (client, pool):
        first = pool.submit(client.post, "/synthesize", json=BODY)
        wait_until(lambda: engine.started == 1)
        waiter = pool.submit(client.post, "/synthesize", json=BODY)
        wait_until(lambda: slots(client)["waiting"] == 1 or waiter.done())
        if not waiter.done():  # while it waits, there is no room to wait
            assert "排队" in assert_busy(answered(pool.submit(client.post, "/synthesize", json=BODY)))["message"]
        assert "等待" in assert_busy(answered(waiter))["message"]
        assert slots(client) == {"slots": 1, "running": 1, "waiting": 0, "max_waiting": 1}
        assert not first.done()
        engine.release.set()
        assert answered(first).status_code == 200
        assert client.post("/synthesize", json=BODY).status_code == 200


def test_openai_route_is_refused_in_openai_shape_when_full(tmp_path, engine, clips, png):
    with running(tmp_path, engine, max_syntheses=1, max_synthesis_waiting=0) as (client, pool):
        assert create_model(client, clips["5s"], png, "xiaoyun").json()["code"] == 0
        held = pool.submit(client.post, "/synthesize", json=BODY)
        wait_until(lambda: engine.started == 1)
        reply = client.post("/v1/audio/speech", json={"model": "tts-1", "input": "你好。", "voice": "xiaoyun"})
        assert reply.status_code == 503 and int(reply.headers["Retry-After"]) >= 1
        assert reply.json()["error"]["code"] == "server_busy" and reply.json()["error"]["type"] == "server_error"
        engine.release.set()
        assert answered(held).status_code == 200


@pytest.mark.parametrize("path", ["/synthesize", "/v1/audio/speech"])
def test_a_stream_holds_its_slot_until_the_client_goes(tmp_path, engine, clips, png, path):
    settings = settings_for(tmp_path / "data", max_syntheses=1, max_synthesis_waiting=0)
    app = create_app(settings, engine=engine)
    body = {**BODY, "stream": True} if path == "/synthesize" else {"model": "tts-1", "input": "你好。",
                                                                    "voice": "xiaoyun"}
    body["response_format"] = "pcm"  # bytes out as each segment is ready (an encoder may buffer them)
    with serve(app) as url, httpx.Client(base_url=url, timeout=DEADLINE) as http:
        assert create_model(http, clips["5s"], png, "xiaoyun").json()["code"] == 0
        with http.stream("POST", path, json=body) as stream:
            assert stream.status_code == 200
            chunks = stream.iter_raw()  # kept: dropping the iterator would close the connection
            next(chunks)  # the first segment has arrived; the second is held
            assert http.post("/synthesize", json=BODY).status_code == 503  # the stream holds the slot
            assert http.get("/healthz").json()["synthesis"]["running"] == 1
        # the client went (the stream was closed unread): its slot is free again
        wait_until(lambda: http.get("/healthz").json()["synthesis"]["running"] == 0, timeout=DEADLINE)
        engine.release.set()
        assert http.post("/synthesize", json=BODY).status_code == 200
