"""The durable task queue (任务队列): one JSON file per task, a worker pool, retention.

`install(app)` is called once by `create_app`: it adds the /voice-tasks routes, starts the workers and
the retention sweeper with the app and stops them with it, puts the queue on `app.state.task_queue`
and its figures (queue length, running task) into /healthz under `tasks`, and whether its store can be
reached under `task_queue` (`{"backend": "redis", "ok": false, "error": ...}` makes /healthz `degraded`).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from GPT_SoVITS.pipeline import SynthesisOptions

from ..envelope import busy, error_response
from ..schemas import SynthesisRequest, resolve_options
from . import retention
from .backend import make_backend
from .limits import TaskLimits
from .logs import TaskLogs
from .queue import TaskQueue
from .router import router

OUTPUT_SUBDIR = "tasks"  # result WAVs: output/tasks/<task_id>.wav
STORE_AWAY_MESSAGE = "任务存储暂时不可用，请稍后重试"
STORE_AWAY_RETRY_SECONDS = 5

log = logging.getLogger("tts_service.tasks")


class TaskResolver:
    """Request fields -> SynthesisOptions through the voice-model store, at submit and at run time."""

    def __init__(self, app: FastAPI):
        self.state = app.state

    def check(self, request: SynthesisRequest) -> SynthesisOptions:
        return resolve_options(request, self.state.settings, self.state.voice_models)

    def __call__(self, entry: dict) -> SynthesisOptions:
        return self.check(SynthesisRequest.model_validate(entry))


def build_queue(app: FastAPI) -> TaskQueue:
    settings = app.state.settings
    return TaskQueue(make_backend(settings), TaskLogs(settings.logs_dir), settings.output_dir / OUTPUT_SUBDIR,
                     resolve=app.state.task_resolver, get_engine=lambda: app.state.engine,
                     workers=settings.task_workers, max_attempts=settings.task_max_attempts,
                     limits=TaskLimits.from_settings(settings))


async def _store_away(request: Request, exc: Exception) -> JSONResponse:
    """The task store (Redis) did not answer: a request may succeed once it is back, so code BUSY and
    503 with Retry-After, never a 500 with a stack trace (the workers ride the outage out themselves)."""
    log.warning("%s %s: task store unreachable (%s)", request.method, request.url.path, type(exc).__name__)
    refusal = busy(STORE_AWAY_MESSAGE, 503, STORE_AWAY_RETRY_SECONDS)
    return error_response(refusal.code, refusal.message, refusal.http_status, refusal.data, refusal.headers)


def install(app: FastAPI) -> None:
    app.include_router(router)
    if app.state.settings.redis_url:
        import redis

        app.add_exception_handler(redis.RedisError, _store_away)
    app.state.task_resolver = TaskResolver(app)
    if hasattr(app.state, "health_extras"):
        app.state.health_extras["tasks"] = lambda: app.state.task_queue.health()
        app.state.health_extras["task_queue"] = lambda: app.state.task_queue.backend.health()
    outer = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(scope_app):
        async with outer(scope_app) as state:
            queue = app.state.task_queue = build_queue(app)
            await queue.start()
            sweeper = asyncio.create_task(retention.run_forever(queue, app.state.settings.task_retention))
            try:
                yield state
            finally:
                sweeper.cancel()
                await queue.stop()

    app.router.lifespan_context = lifespan
