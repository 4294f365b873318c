"""create_app(settings): the FastAPI application with its routers, guards, logs and stores.

Layers, outermost first: access log -> OpenAI errors -> CORS -> body deadline -> API key -> body
limit -> FastAPI (exception handlers in the envelope, routers, static /audio, /output and the admin
page's /static).

One lifespan starts what runs in the background, in this order, and stops it in reverse: the engine's
weight loading, the housekeeping sweeper, the task queue's workers; the synthesis threads close last.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import AsyncIterator

from fastapi import FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from . import __version__, envelope, housekeeping, tasks
from .admission import SynthesisSlots
from .engine import Engine, SpeechEngine
from .health import HealthProbes
from .logs import AccessLogMiddleware, access_logger
from .routers import (api_v1, api_v2, categories, finetune, health, models, openai, pages, synthesis,
                      training_data, voice_models)
from .security import ApiKeyMiddleware, BodyLimitMiddleware, BodyTimeoutMiddleware
from .settings import Settings
from .storage.categories import CategoryStore
from .storage.json_store import JsonStore
from .storage.voice_models import VoiceModelStore

# The admin page's stylesheet and scripts (index.html is the page; they hold no data).
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
TITLE = "GPT-SoVITS 推理服务"
DESCRIPTION = ("基于 MindSpore 的 GPT-SoVITS 文本转语音服务。所有 JSON 响应为 `{code, message, data}`："
               "code 0 成功，1 失败，2 资源不存在或已存在，3 参数错误，4 繁忙（HTTP 429/503，"
               "按 Retry-After 秒后重试）。")
TAGS = [
    {"name": "音模管理", "description": "音模（参考音频 + 头像）与分类"},
    {"name": "任务队列", "description": "排队合成任务"},
    {"name": "页面", "description": "管理页面"},
    {"name": "其他", "description": "健康检查、模型切换、直接合成"},
    {"name": "OpenAI 兼容", "description": "/v1/audio/speech（流式）、/v1/models、/v1/audio/voices、/v1/audio/models"},
    {"name": api_v2.TAG, "description": "GPT-SoVITS 原版 api_v2.py（/tts 等）与 api.py（/ 等）的接口，供现有客户端"
                                        "原样使用；错误为 HTTP 400 + {\"message\"}，不用本服务的 {code, message, data}"},
]


class PublicOutputFiles(StaticFiles):
    """`/output` serves direct-synthesis results; task results are only handed to their owner, through
    `GET /voice-tasks/{id}/audio`, so their folder is not served here."""

    PRIVATE_FOLDER = "tasks"

    async def get_response(self, path: str, scope):
        if path.replace("\\", "/").lstrip("/").split("/", 1)[0] == self.PRIVATE_FOLDER:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if settings.load_models:
        app.state.engine.start_loading()
    async with contextlib.AsyncExitStack() as running:
        running.callback(app.state.synthesis_slots.close)
        await running.enter_async_context(housekeeping.running(settings))  # output/direct/, .staging/
        await running.enter_async_context(tasks.running(app))  # the workers and the retention sweeper
        yield


def create_app(settings: Settings | None = None, engine: SpeechEngine | None = None) -> FastAPI:
    """The service on `settings`; `engine` replaces the real one (the tests' stand-ins)."""
    settings = settings or Settings()
    settings.ensure_layout()
    app = FastAPI(title=TITLE, version=__version__, description=DESCRIPTION, openapi_tags=TAGS, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine or Engine(settings)
    app.state.categories = CategoryStore(JsonStore(settings.categories_file))
    app.state.voice_models = VoiceModelStore(settings, app.state.categories)
    app.state.health = probes = HealthProbes()  # /healthz's parts besides the engine
    app.state.synthesis_slots = slots = SynthesisSlots.from_settings(settings)  # back-pressure, own threads
    probes.add("synthesis", slots.status)

    envelope.install_handlers(app)
    api_v2.install(app)  # the reference-compatible routes' default reference and /control's commands
    for module in (health, models, synthesis, voice_models, training_data, finetune, categories, pages, openai, api_v2,
                   api_v1):
        app.include_router(module.router)
    app.mount("/audio", StaticFiles(directory=settings.audio_dir), name="audio")
    app.mount("/output", PublicOutputFiles(directory=settings.output_dir), name="output")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # add_middleware wraps: the last added is the outermost.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    if settings.api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key, protect_voice_list=settings.protect_voice_list)
    # outside the key check: a refusal sent while a slow body is still arriving closes the connection
    app.add_middleware(BodyTimeoutMiddleware, seconds=settings.body_timeout)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["*"],
                           allow_headers=["*"], allow_credentials="*" not in settings.cors_origins)
    # /v1 answers errors in OpenAI's shape, those of the guards above included
    app.add_middleware(openai.OpenAIErrorMiddleware)
    app.add_middleware(AccessLogMiddleware, logger=access_logger(settings.logs_dir))
    tasks.install(app, probes)  # the task queue's routes and health; its workers run in the lifespan
    return app
