"""OpenAI-compatible speech: POST /v1/audio/speech, GET /v1/models, GET /v1/audio/voices, GET /v1/audio/models.

`voice` is a voice model id (GET /v1/audio/voices lists them); each request synthesises with its own
voice and never changes what other requests use. The body is always streamed, segment by segment, as
OpenAI's own endpoint streams its body. GPT-SoVITS fields OpenAI lacks (language, seed, cut method,
sampling) may be sent as extra fields (`extra_body` in the openai client).

The two /v1/audio listings answer in OpenAI's list shape (`object`, `data`) and, in the same body, in the
shape Open WebUI and Home Assistant's openai_tts read (`voices` / `models`: `[{"id", "name"}]`). Open WebUI
fetches them without any key, so they are open by default (security.LISTING_PATHS) and then show a request
without the key ids and names only; with the key (or none set) `data` also has each voice's details.

Errors on /v1 answer in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`: the route
raises the service's ApiError with `param`/`code` in its data, and `OpenAIErrorMiddleware` translates
every envelope error under /v1 (the route's, validation, the API key and body-size guards, unknown
paths) at the edge, so the rest of the service keeps speaking its envelope.
"""
from __future__ import annotations

import json
import uuid
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import ConfigDict, Field
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from GPT_SoVITS.pipeline import SamplingOptions, SynthesisOptions

from .. import deps, vocab
from ..admission import SynthesisSlots
from ..audio_formats import FORMATS, check_format, format_list
from ..engine import SpeechEngine
from ..envelope import BAD_PARAM, BUSY, RESOURCE, ApiError
from ..limits import TOO_LONG, over_limit
from ..schemas import (SAMPLING, ChunkingFields, NoiseScale, Seed, Temperature, TopK, TopP, check_languages,
                       resolve_voice)
from ..security import holds_key
from ..settings import Settings
from ..storage.ids import ID_PATTERN
from ..storage.voice_models import VoiceModelStore
from ..streaming import streamed_audio

router = APIRouter(prefix="/v1", tags=["OpenAI 兼容"])

PREFIX = "/v1"
# One engine serves every name: ours, and the ones OpenAI clients have built in.
MODEL_IDS = ("gpt-sovits", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
CREATED = 1735689600  # 2025-01-01: a fixed "created" for the model list
SPEED_RANGE = (0.25, 4.0)  # OpenAI's; SoVITS stretches by 1/speed, the same meaning
DEFAULT_CUT = "cut5"  # at every punctuation mark: short segments, so the first audio comes early
DEFAULT_LANGUAGE = "auto"  # OpenAI requests do not say: each piece is detected


class SpeechRequest(ChunkingFields):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "model": "gpt-sovits", "input": "你好，欢迎使用语音合成服务。", "voice": "xiaoyun",
        "response_format": "mp3", "speed": 1.0}]})

    model: str = Field(description=f"one of {', '.join(MODEL_IDS)} (GET /v1/models)")
    input: str = Field(description="the text to speak")
    voice: str | dict[str, str] = Field(description="a voice model id (GET /v1/audio/voices), or {\"id\": ...}")
    response_format: str = Field("mp3", description=f"{format_list()}; pcm: 16-bit little-endian mono at the "
                                                    "model's rate (X-Sample-Rate, 32000 for v1/v2/v2Pro)")
    speed: float = Field(1.0, description=f"{SPEED_RANGE[0]}-{SPEED_RANGE[1]}; 2.0 is twice as fast")
    instructions: str | None = Field(None, description="accepted and ignored (GPT-SoVITS takes its style "
                                                       "from the voice's reference clip)")
    stream: bool | None = Field(None, description="accepted and ignored: the body is always streamed")
    stream_format: Literal["audio"] = Field("audio", description="only raw audio (no SSE)")
    # GPT-SoVITS extensions
    language: str = Field(DEFAULT_LANGUAGE, description="language of `input`: auto, all_zh, zh, en, all_ja, ja "
                                                        "or a Chinese label")
    how_to_cut: str = Field(DEFAULT_CUT, description="cut0..cut5: how the input is split into segments")
    seed: Seed = None
    top_k: TopK = SAMPLING.top_k
    top_p: TopP = SAMPLING.top_p
    temperature: Temperature = SAMPLING.temperature
    noise_scale: NoiseScale = Field(SynthesisOptions.noise_scale, description="SoVITS prior noise (0: "
                                    "deterministic, the reference run's golden setting)")

    def options(self, settings: Settings, models: VoiceModelStore, voice_id: str) -> SynthesisOptions:
        """This request in the pipeline's terms (after `_check`): the voice model gives clip and prompt."""
        voice = resolve_voice(settings, models, voice_id)
        check_languages(voice.prompt_language)
        return voice.speaking(
            self.input.strip(), text_language=self.language, how_to_cut=self.how_to_cut, seed=self.seed,
            sampling=SamplingOptions(top_k=self.top_k, top_p=self.top_p, temperature=self.temperature),
            speed=self.speed, noise_scale=self.noise_scale, chunks=self.delivery().chunks)


def _bad(message: str, param: str | None, code: str = "invalid_value", status: int = 400) -> ApiError:
    return ApiError(BAD_PARAM if status != 404 else RESOURCE, message, status, {"param": param, "code": code})


def _voice_id(voice: str | dict[str, str]) -> str:
    raw = voice.get("id", "") if isinstance(voice, dict) else voice
    if not raw or not ID_PATTERN.fullmatch(raw):
        raise _bad("voice must be a voice model id (letters, digits, _ and -; GET /v1/audio/voices)", "voice")
    return raw


def _check(req: SpeechRequest, settings: Settings, models: VoiceModelStore) -> str:
    """Everything a client can get wrong, each with its `param`; returns the voice id."""
    longest = over_limit(req, settings.max_prompt_chars, exempt=("input",))  # first: messages quote values
    if longest is not None:
        raise _bad(f"{longest[0]} is {longest[1]} characters; at most {settings.max_prompt_chars}", longest[0],
                   TOO_LONG)
    if req.model not in MODEL_IDS:
        raise _bad(f"model {req.model!r} does not exist; use one of {', '.join(MODEL_IDS)}", "model",
                   "model_not_found", 404)
    if not req.input.strip():
        raise _bad("input is empty", "input", "empty_input")
    if len(req.input) > settings.max_text_chars:
        raise _bad(f"input is {len(req.input)} characters; at most {settings.max_text_chars}", "input",
                   TOO_LONG)
    if check_format(req.response_format) is None:
        raise _bad(f"response_format {req.response_format!r} is not supported; use one of {format_list()}",
                   "response_format")
    if not SPEED_RANGE[0] <= req.speed <= SPEED_RANGE[1]:
        raise _bad(f"speed {req.speed} is out of range [{SPEED_RANGE[0]}, {SPEED_RANGE[1]}]", "speed")
    if vocab.language_code(req.language) is None:
        raise _bad(f"language {req.language!r} is not supported; use one of {', '.join(vocab.LANGUAGES)}",
                   "language")
    if vocab.cut_code(req.how_to_cut) is None:
        raise _bad(f"how_to_cut {req.how_to_cut!r} is not supported; use one of {', '.join(vocab.CUT_METHODS)}",
                   "how_to_cut")
    voice = _voice_id(req.voice)
    if models.get(voice) is None:
        raise _bad(f"voice {voice!r} does not exist (GET /v1/audio/voices lists the voices)", "voice",
                   "voice_not_found", 404)
    return voice


@router.post("/audio/speech", summary="OpenAI 兼容语音合成（流式）", response_class=StreamingResponse,
             responses={200: {"content": {f.media_type: {} for f in FORMATS.values()},
                              "description": "audio, sent segment by segment (chunked)"},
                        400: {"description": "OpenAI error shape; `param` names the field"},
                        404: {"description": "unknown voice or model"},
                        503: {"description": "busy: every synthesis slot taken (Retry-After), or weights "
                                             "missing"}})
async def create_speech(req: SpeechRequest, settings: Settings = Depends(deps.settings),
                        engine: SpeechEngine = Depends(deps.engine),
                        models: VoiceModelStore = Depends(deps.voice_models),
                        slots: SynthesisSlots = Depends(deps.synthesis_slots)) -> StreamingResponse:
    voice = _check(req, settings, models)
    fmt = check_format(req.response_format)
    options = await run_in_threadpool(req.options, settings, models, voice)
    request_id = uuid.uuid4().hex[:12]
    return await streamed_audio(engine, options, fmt, f"speech {request_id} ({voice}, {fmt.name})",
                                slots, headers={"X-Request-Id": request_id})


def _model(model_id: str) -> dict:
    return {"id": model_id, "object": "model", "created": CREATED, "owned_by": "gpt-sovits-mindspore"}


@router.get("/models", summary="模型列表（OpenAI 形式）")
def list_models() -> dict:
    return {"object": "list", "data": [_model(m) for m in MODEL_IDS]}


@router.get("/models/{model_id}", summary="模型详情（OpenAI 形式）")
def get_model(model_id: str) -> dict:
    if model_id not in MODEL_IDS:
        raise _bad(f"model {model_id!r} does not exist", "model", "model_not_found", 404)
    return _model(model_id)


@router.get("/audio/models", summary="语音合成模型列表（OpenAI / Open WebUI 形式）")
def list_speech_models() -> dict:
    """The `model` values /v1/audio/speech takes, as /v1/models lists them and as Open WebUI reads them."""
    return {"object": "list", "data": [_model(m) for m in MODEL_IDS],
            "models": [{"id": m, "name": m} for m in MODEL_IDS]}


@router.get("/audio/voices", summary="可用音色（音模）列表")
def list_voices(request: Request, settings: Settings = Depends(deps.settings),
                models: VoiceModelStore = Depends(deps.voice_models)) -> dict:
    """Every voice model, as `voice` values for /v1/audio/speech (details only for a request with the key)."""
    records, _ = models.list(1, 10**9)
    public = [{"id": m["model_id"], "name": m["model_name"]} for m in records]
    if not holds_key(request.scope, settings.api_key):
        return {"object": "list", "data": [{**v, "object": "voice"} for v in public], "voices": public}
    return {"object": "list", "data": [{
        "id": m["model_id"], "object": "voice", "name": m["model_name"], "gender": m["gender"],
        "language": m["prompt_language"], "preview_url": m["refer_wav_url"], "categories": m["categories"],
    } for m in records], "voices": public}


# ---- errors in OpenAI's shape ------------------------------------------------------------------------
_TYPES = {401: "invalid_request_error", 403: "invalid_request_error", 404: "invalid_request_error",
          409: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error"}
BUSY_CODE = "server_busy"
_CODES = {401: "invalid_api_key", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large",
          503: "model_not_loaded"}


# The service's field names in error data -> the fields of OpenAI's body that carry them.
_PARAMS = {"text": "input", "ref_wav_path": "voice"}


def openai_error(envelope: dict, status: int) -> tuple[dict, int]:
    """{code, message, data} -> ({"error": {...}}, status); validation's 422 becomes OpenAI's 400."""
    data = envelope.get("data") if isinstance(envelope.get("data"), dict) else {}
    param = _PARAMS.get(data.get("param"), data.get("param"))
    errors = data.get("errors") or []
    if param is None and errors:
        param = ".".join(str(p) for p in errors[0].get("loc", ()) if p != "body") or None
    status = 400 if status == 422 else status
    kind = _TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
    code = data.get("code") or _CODES.get(status, "invalid_value" if status == 400 else None)
    if envelope.get("code") == BUSY:  # at capacity (429/503 + Retry-After), not "model not loaded"
        code = BUSY_CODE
    return {"error": {"message": envelope.get("message") or "request failed", "type": kind, "param": param,
                      "code": code}}, status


class OpenAIErrorMiddleware:
    """Rewrites envelope error responses under /v1 into OpenAI's error shape; all else passes through."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        held: dict | None = None  # the start of an error response, until its body is read
        body = bytearray()

        async def translate(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                json_error = message["status"] >= 400 and Headers(raw=message["headers"]).get(
                    "content-type", "").startswith("application/json")
                if not json_error:
                    await send(message)
                    return
                held = message
                return
            if held is None:
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            await _send_translated(send, held, bytes(body))

        await self.app(scope, receive, translate)


async def _send_translated(send: Send, start: Message, raw: bytes) -> None:
    try:
        envelope = json.loads(raw)
    except ValueError:
        envelope = None
    status = start["status"]
    if isinstance(envelope, dict) and "error" not in envelope and "code" in envelope:
        translated, status = openai_error(envelope, status)
        raw = json.dumps(translated, ensure_ascii=False).encode()
    headers = MutableHeaders(raw=list(start["headers"]))
    headers["content-length"] = str(len(raw))
    await send({**start, "status": status, "headers": headers.raw})
    await send({"type": "http.response.body", "body": raw, "more_body": False})
