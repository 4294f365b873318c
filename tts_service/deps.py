"""What a route needs from the app (FastAPI dependencies): one accessor per shared object."""
from __future__ import annotations

from fastapi import Request

from .admission import SynthesisSlots
from .engine import Engine
from .settings import Settings
from .storage.categories import CategoryStore
from .storage.voice_models import VoiceModelStore


def settings(request: Request) -> Settings:
    return request.app.state.settings


def engine(request: Request) -> Engine:
    return request.app.state.engine


def voice_models(request: Request) -> VoiceModelStore:
    return request.app.state.voice_models


def categories(request: Request) -> CategoryStore:
    return request.app.state.categories


def synthesis_slots(request: Request) -> SynthesisSlots:
    return request.app.state.synthesis_slots
