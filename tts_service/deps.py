"""What a route needs from the app (FastAPI dependencies): one accessor per shared object."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from .admission import SynthesisSlots
from .engine import SpeechEngine
from .envelope import FAILED, ApiError
from .health import HealthProbes
from .settings import Settings
from .storage.categories import CategoryStore
from .storage.voice_models import VoiceModelStore

if TYPE_CHECKING:
    from .tasks.queue import TaskQueue


def settings(request: Request) -> Settings:
    return request.app.state.settings


def engine(request: Request) -> SpeechEngine:
    return request.app.state.engine


def voice_models(request: Request) -> VoiceModelStore:
    return request.app.state.voice_models


def categories(request: Request) -> CategoryStore:
    return request.app.state.categories


def synthesis_slots(request: Request) -> SynthesisSlots:
    return request.app.state.synthesis_slots


def health(request: Request) -> HealthProbes:
    return request.app.state.health


def task_queue(request: Request) -> "TaskQueue":
    """The running queue; 503 before the app has started it (or after it stopped)."""
    queue = request.app.state.task_queue
    if queue is None:
        raise ApiError(FAILED, "任务队列未启动", 503)
    return queue
