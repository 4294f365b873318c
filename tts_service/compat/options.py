"""A reference-style request -> the pipeline's SynthesisOptions, through the service's own decoding
(`SynthesisRequest.to_options`: voice model, allowed clip folders, text and field limits, languages, cut
methods; `ChunkingFields.delivery`: streaming_mode), so these routes take nothing another route would
refuse. The reference's extras on top: speed (its wider range), the pause between segments, more clips
for the timbre."""
from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import ValidationError

from GPT_SoVITS.pipeline import SynthesisOptions

from .. import vocab
from ..routers.openai import SPEED_RANGE
from ..schemas import ChunkingFields, SynthesisRequest
from ..settings import Settings
from ..storage.voice_models import VoiceModelStore
from .errors import bad, first_problem
from .voices import Voice, resolve_all

PAUSE_RANGE = (0.0, 10.0)  # seconds after each segment (api_v2's fragment_interval)
MAX_EXTRA_REFS = 8  # clips averaged into the timbre besides the reference; each is decoded and analysed
SEED_RANDOM = -1  # api_v2: -1 means "a new random seed"
DEFAULT_PAUSE = SynthesisOptions.__dataclass_fields__["pause_second"].default  # api.py's 0.3 s per segment


def check_language(value: str | None, field: str) -> str:
    """api_v2's check_params: required, and one the text frontend knows."""
    if not value:
        raise bad(f"{field} is required")
    if vocab.language_code(value) is None:
        raise bad(f"{field}: {value} is not supported (use one of {', '.join(vocab.LANGUAGES)})")
    return value


def check_cut(value: str, field: str) -> str:
    if vocab.cut_code(value) is None:
        raise bad(f"{field}:{value} is not supported (use one of {', '.join(vocab.CUT_METHODS)})")
    return value


def _in_range(value: float, bounds: tuple[float, float], field: str) -> float:
    if not bounds[0] <= value <= bounds[1]:
        raise bad(f"{field}: {value:g} is out of range [{bounds[0]:g}, {bounds[1]:g}]")
    return value


def options_for(voice: Voice, settings: Settings, models: VoiceModelStore, *, names: dict[str, str],
                speed: float, pause: float, extra_refs: list[str], chunking: dict[str, int] | None = None,
                seed: int = SEED_RANDOM, **fields: Any) -> tuple[SynthesisOptions, bool]:
    """The options of one synthesis, and whether its answer is streamed. `fields` are SynthesisRequest's
    (text, text_language, how_to_cut, sampling); `names` maps their names to the client's, for the
    messages; blocking (reads the stores)."""
    try:
        request = SynthesisRequest(model_id=voice.model_id, ref_wav_path=voice.clip, prompt_text=voice.prompt_text,
                                   prompt_language=voice.prompt_language,
                                   seed=None if seed == SEED_RANDOM else seed, **fields)
        stream = ChunkingFields(**(chunking or {}))
    except ValidationError as exc:
        raise bad(first_problem(exc, names)) from None
    options = request.to_options(settings, models)
    options = dataclasses.replace(
        options, speed=_in_range(speed, SPEED_RANGE, names.get("speed", "speed")),
        pause_second=_in_range(pause, PAUSE_RANGE, names.get("pause_second", "pause_second")),
        extra_ref_wav_paths=resolve_all(extra_refs, settings, models, MAX_EXTRA_REFS))
    delivery = stream.delivery()
    return dataclasses.replace(options, chunks=delivery.chunks), delivery.streamed
