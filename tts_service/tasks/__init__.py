"""The durable task queue (任务队列): one JSON file per task (or Redis), a worker pool, retention.

`install(app, probes)` is called once by `create_app`: it adds the /voice-tasks routes and reports the
queue's figures (queue length, running task) to /healthz under `tasks`, and whether its store can be
reached under `task_queue` (`{"backend": "redis", "ok": false, "error": ...}` makes /healthz `degraded`).
`running(app)` is the queue's part of the app's lifespan: it builds the queue (`app.state.task_queue`,
reached by the routes through `deps.task_queue`), starts the workers and the retention sweeper, and stops
them at shutdown.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from GPT_SoVITS.pipeline import SynthesisOptions

from ..envelope import busy, error_response
from ..finetuning import Finetuner
from ..health import HealthProbes
from ..schemas import SynthesisRequest
from . import retention
from .factory import make_backend
from .limits import TaskLimits
from .logs import TaskLogs
from .queue import TaskQueue
from .router import router

OUTPUT_SUBDIR = "tasks"  # result WAVs: output/tasks/<task_id>.wav
STORE_AWAY_MESSAGE = "任务存储暂时不可用，请稍后重试"
STORE_AWAY_RETRY_SECONDS = 5
NOT_STARTED = {"error": "任务队列未启动"}

log = logging.getLogger("tts_service.tasks")


def build_queue(app: FastAPI) -> TaskQueue:
    state, settings = app.state, app.state.settings

    def options(entry: dict) -> SynthesisOptions:
        """A stored task's request, decoded when it runs (its voice model is read then, as it is now)."""
        return SynthesisRequest.model_validate(entry).to_options(state.settings, state.voice_models)

    # Fine-tunes yield to syntheses between training steps: they wait while any runs or waits for a slot,
    # and while a synthesis task of this process runs (the queue marks those on the same slots).
    slots = state.synthesis_slots
    # Their MindSpore work takes turns with the engine's (MindSpore crashes when two threads compute at once).
    finetuner = Finetuner(settings, state.voice_models, yield_to=slots.wait_until_idle,
                          models_turn=state.engine.background_turn)
    return TaskQueue(make_backend(settings), TaskLogs(settings.logs_dir), settings.output_dir / OUTPUT_SUBDIR,
                     resolve=options, engine=state.engine, workers=settings.task_workers,
                     max_attempts=settings.task_max_attempts, limits=TaskLimits.from_settings(settings),
                     finetuner=finetuner, training_workers=settings.training_workers,
                     synthesis_running=slots.task_running)


async def _store_away(request: Request, exc: Exception) -> JSONResponse:
    """The task store (Redis) did not answer: a request may succeed once it is back, so code BUSY and
    503 with Retry-After, never a 500 with a stack trace (the workers ride the outage out themselves)."""
    log.warning("%s %s: task store unreachable (%s)", request.method, request.url.path, type(exc).__name__)
    refusal = busy(STORE_AWAY_MESSAGE, 503, STORE_AWAY_RETRY_SECONDS)
    return error_response(refusal.code, refusal.message, refusal.http_status, refusal.data, refusal.headers)


def install(app: FastAPI, probes: HealthProbes) -> None:
    app.include_router(router)
    if app.state.settings.redis_url:
        import redis

        app.add_exception_handler(redis.RedisError, _store_away)
    app.state.task_queue = None  # until the app starts: the routes answer 503 meanwhile

    def queue_figures() -> dict:
        queue = app.state.task_queue
        return NOT_STARTED if queue is None else queue.health()

    def store_health() -> dict:
        queue = app.state.task_queue
        return NOT_STARTED if queue is None else queue.backend.health()

    probes.add("tasks", queue_figures)
    probes.add("task_queue", store_health)


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    queue = app.state.task_queue = build_queue(app)
    await queue.start()
    sweeper = asyncio.create_task(retention.run_forever(queue, app.state.settings.task_retention))
    try:
        yield
    finally:
        sweeper.cancel()
        await queue.stop()
