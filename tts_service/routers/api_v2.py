"""The reference's api_v2.py routes: GET/POST /tts, /set_gpt_weights, /set_sovits_weights,
/set_refer_audio and /control; and what its clients poll: GET /ping, GET /speakers.

Requests are read as the reference reads them (compat/params.py) and answered as it answers them:
audio, or `{"message": ...}` with HTTP 400 (compat/errors.py). A synthesis uses the service's
voices, limits and back-pressure, exactly as /synthesize does.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any, Callable

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.background import BackgroundTask

from GPT_SoVITS.pipeline import SynthesisError

from .. import deps, vocab
from ..admission import SynthesisSlots
from ..compat.audio import MEDIA_TYPES, answer, output_format
from ..compat.errors import answered_as_v2, bad
from ..compat.options import check_cut, check_language, options_for
from ..compat.params import ChangeReferParams, TtsParams, json_body, json_values, query_parameters, query_values, read
from ..compat.voices import DefaultReference, Defaults, Voice, resolve
from ..engine import SpeechEngine
from ..envelope import BAD_PARAM, ApiError
from ..limits import check_fields, check_text
from ..settings import Settings
from ..storage.voice_models import VoiceModelStore
from .models import check_weight_file, names_a_given_file

TAG = "GPT-SoVITS 接口兼容"
MAX_BATCH_SIZE = 200  # api_v2's web UI slider goes to 200; the scheduler's batch caps what runs at once
router = APIRouter(tags=[TAG])

AUDIO = {200: {"content": {f"audio/{name}": {} for name in MEDIA_TYPES}, "description": "the audio"},
         400: {"description": "`{\"message\": ...}`: what is wrong with the request"},
         503: {"description": "`{\"message\": ...}`: busy (Retry-After) or weights missing"}}
# SynthesisRequest's names -> api_v2's, for the messages
NAMES = {"text_language": "text_lang", "prompt_language": "prompt_lang", "how_to_cut": "text_split_method",
         "speed": "speed_factor", "pause_second": "fragment_interval"}


@dataclass
class Service:
    settings: Settings
    engine: SpeechEngine
    models: VoiceModelStore
    slots: SynthesisSlots
    defaults: Defaults


def install(app: FastAPI) -> None:
    """What these routes keep per app: the default reference (compat/voices.py), and what /control does."""
    app.state.reference_defaults = Defaults(app.state.settings)
    app.state.control_commands = dict(COMMANDS)


def defaults(request: Request) -> Defaults:
    return request.app.state.reference_defaults


def service(settings: Settings = Depends(deps.settings), engine: SpeechEngine = Depends(deps.engine),
            models: VoiceModelStore = Depends(deps.voice_models),
            slots: SynthesisSlots = Depends(deps.synthesis_slots),
            default: Defaults = Depends(defaults)) -> Service:
    return Service(settings, engine, models, slots, default)


# ---- /tts ----------------------------------------------------------------------------------------------
def voice_of(raw: str | None, prompt_text: str, prompt_language: str | None, svc: Service, missing: str) -> Voice:
    """The request's reference, else the default one (/set_refer_audio, /change_refer, --default-voice);
    `missing`: the message when there is neither."""
    if raw:
        return resolve(raw, svc.settings, svc.models, prompt_text, prompt_language)
    default = svc.defaults.get()
    if default is None:
        raise bad(missing)
    return resolve(default.ref, svc.settings, svc.models, prompt_text or default.prompt_text,
                   prompt_language or default.prompt_language)


def tts_options(params: TtsParams, svc: Service):
    """api_v2's check_params, in its order, then the options (blocking: reads the stores and the disk)."""
    check_fields(params, svc.settings.max_prompt_chars)
    voice = voice_of(params.ref_audio_path, params.prompt_text, params.prompt_lang, svc, "ref_audio_path is required")
    if not params.text:
        raise bad("text is required")
    text_lang = check_language(params.text_lang, "text_lang")
    prompt_lang = check_language(voice.prompt_language, "prompt_lang")
    output_format(params.media_type)
    check_cut(params.text_split_method, "text_split_method")
    voice = dataclasses.replace(voice, prompt_language=prompt_lang)
    options, streamed = options_for(
        voice, svc.settings, svc.models, names=NAMES, speed=params.speed_factor, pause=params.fragment_interval,
        extra_refs=params.aux_ref_audio_paths, seed=params.seed,
        chunking={"streaming_mode": params.streaming_mode, "min_chunk_length": params.min_chunk_length,
                  "overlap_length": params.overlap_length},
        text=params.text, text_language=text_lang, how_to_cut=params.text_split_method, top_k=params.top_k,
        top_p=params.top_p, temperature=params.temperature, repetition_penalty=params.repetition_penalty,
        noise_scale=params.noise_scale)
    return dataclasses.replace(options, parallel_segments=parallel_segments(params)), streamed


def parallel_segments(params: TtsParams) -> int | None:
    """api_v2's batch_size and parallel_infer as segments decoding at once: parallel_infer false -> one at a
    time; a batch_size the client sent -> that many; else the service's default (--parallel-segments)."""
    if not params.parallel_infer:
        return 1
    if "batch_size" not in params.model_fields_set:
        return None
    if not 1 <= params.batch_size <= MAX_BATCH_SIZE:
        raise bad(f"batch_size: {params.batch_size} is out of range [1, {MAX_BATCH_SIZE}]")
    return params.batch_size


async def tts(raw: dict[str, Any], svc: Service) -> Response:
    params = read(TtsParams, raw)
    options, streamed = await run_in_threadpool(tts_options, params, svc)
    return await answer(svc.engine, options, streamed, params.media_type, svc.slots, "tts")


@router.get("/tts", summary="合成（api_v2 兼容，GET）", response_class=Response, responses=AUDIO,
            openapi_extra={"parameters": query_parameters(TtsParams)},
            description="api_v2.py's GET /tts: the parameters below, as query strings. Audio (whole, or "
                        "streamed with streaming_mode 1-3), or 400 `{\"message\"}`.")
@answered_as_v2
async def tts_get(request: Request, svc: Service = Depends(service)) -> Response:
    return await tts(query_values(request, TtsParams), svc)


@router.post("/tts", summary="合成（api_v2 兼容，POST）", response_class=Response, responses=AUDIO,
             openapi_extra={"requestBody": json_body(TtsParams)},
             description="api_v2.py's POST /tts: the same fields as a JSON object.")
@answered_as_v2
async def tts_post(request: Request, svc: Service = Depends(service)) -> Response:
    return await tts(await json_values(request), svc)


# ---- weights and the default reference --------------------------------------------------------------
async def switch_weights(svc: Service, weights_path: str | None, kind: str) -> JSONResponse:
    """api_v2's init_t2s_weights / init_vits_weights, through the engine's swap (engine.set_model)."""
    if not weights_path:
        raise bad(f"{kind} weight path is required")
    check_text(weights_path, "weights_path", svc.settings.max_prompt_chars)
    try:
        path = check_weight_file(weights_path, "weights_path")
    except ApiError as exc:
        raise bad(f"change {kind} weight failed", exc.message) from None
    try:
        await run_in_threadpool(svc.engine.set_model, *((path, None) if kind == "gpt" else (None, path)))
    except SynthesisError as exc:
        if names_a_given_file(exc, [path]):  # unreadable, of another kind, or hostile: the caller's to fix
            raise bad(f"change {kind} weight failed", str(exc)) from exc
        raise  # the server's state (weights missing, a failed load): answered_as_v2 reports it
    return JSONResponse({"message": "success"})


WEIGHTS = {200: {"description": "`{\"message\": \"success\"}`, once the new weights are loaded and swapped in"},
           400: {"description": "`{\"message\", \"Exception\"}`: no path, not a .ckpt/.pth file, or not loadable"}}


@router.get("/set_gpt_weights", summary="切换 GPT 权重（api_v2 兼容）", responses=WEIGHTS,
            description="Loads the GPT (s1) .ckpt at `weights_path` (a path on the server), then swaps it in "
                        "(as POST /set_model does; remembered in gweight.txt). Failed: the old one stays.")
@answered_as_v2
async def set_gpt_weights(weights_path: str | None = None, svc: Service = Depends(service)) -> JSONResponse:
    return await switch_weights(svc, weights_path, "gpt")


@router.get("/set_sovits_weights", summary="切换 SoVITS 权重（api_v2 兼容）", responses=WEIGHTS,
            description="Loads the SoVITS (s2 generator) .pth at `weights_path`, then swaps it in (as POST "
                        "/set_model does; remembered in sweight.txt). Failed: the old one stays.")
@answered_as_v2
async def set_sovits_weights(weights_path: str | None = None, svc: Service = Depends(service)) -> JSONResponse:
    return await switch_weights(svc, weights_path, "sovits")


def set_default(params: ChangeReferParams, svc: Service, field: str) -> DefaultReference:
    """Check the reference now (a voice model id or an allowed clip), then make it the default."""
    check_fields(params, svc.settings.max_prompt_chars)
    if not params.refer_wav_path:
        raise bad(f"{field} is required")
    resolve(params.refer_wav_path, svc.settings, svc.models)
    if params.prompt_language:
        check_language(params.prompt_language, "prompt_language")
    default = DefaultReference(params.refer_wav_path.strip(), params.prompt_text, params.prompt_language)
    svc.defaults.set(default)
    return default


@router.get("/set_refer_audio", summary="设置默认参考音频（api_v2 兼容）",
            description="`refer_audio_path`: a voice model id or an allowed clip. It becomes the reference "
                        "of /tts and / requests that name none (per process, until the next change).")
@answered_as_v2
async def set_refer_audio(request: Request, svc: Service = Depends(service)) -> JSONResponse:
    params = read(ChangeReferParams, query_values(request, ChangeReferParams))
    try:
        await run_in_threadpool(set_default, params, svc, "refer_audio_path")
    except ApiError as exc:
        raise bad("set refer audio failed", exc.message) from None
    return JSONResponse({"message": "success"})


# ---- /control ----------------------------------------------------------------------------------------
def restart() -> None:
    """As api_v2: the same command line again, in this process's place (what is buffered for the log
    is written first: exec discards it)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.argv])


def stop() -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful shutdown


COMMANDS: dict[str, Callable[[], None]] = {"restart": restart, "exit": stop}


CONTROL = ("`command`: restart or exit. Allowed only when the server has an API key (the caller then "
           "presented it) or runs with --allow-control; otherwise 403. Answers, then acts.")


def run_command(request: Request, command: Any, settings: Settings) -> JSONResponse:
    if not command:
        raise bad("command is required")
    actions = request.app.state.control_commands
    if not isinstance(command, str) or command not in actions:
        raise bad(f"command: {command} is not supported (use restart or exit)")
    if not (settings.api_key or settings.allow_control):
        raise ApiError(BAD_PARAM, "/control 已禁用：请设置 API key（--api-key）或以 --allow-control 启动", 403)
    return JSONResponse({"message": f"{command}: ok"}, background=BackgroundTask(actions[command]))


@router.get("/control", summary="重启或停止服务（api_v2 兼容）", description=CONTROL)
@answered_as_v2
async def control(request: Request, command: str | None = None,
                  settings: Settings = Depends(deps.settings)) -> JSONResponse:
    return run_command(request, command, settings)


@router.post("/control", summary="重启或停止服务（api.py 兼容，POST）", description=CONTROL + " JSON `{\"command\"}`.")
@answered_as_v2
async def control_post(request: Request, settings: Settings = Depends(deps.settings)) -> JSONResponse:
    return run_command(request, (await json_values(request)).get("command"), settings)


# ---- what clients poll ---------------------------------------------------------------------------------
@router.get("/ping", summary="存活检查", description="`{\"message\": \"pong\"}` while the server runs (no API "
                                                 "key needed, like /healthz).")
def ping() -> dict:
    return {"message": "pong"}


def _lang(language: str | None) -> str:
    """A voice's language as a plain code: zh, en, ja or auto."""
    mode = vocab.language_code(language or "") or "auto"
    return mode.removeprefix("all_")


@router.get("/speakers", summary="音色列表（name, voice_id, preview_url, lang）",
            description="The voice library, for clients that list speakers: `voice_id` is what ref_audio_path "
                        "/ refer_wav_path accept, `preview_url` plays its reference clip.")
def speakers(request: Request, models: VoiceModelStore = Depends(deps.voice_models)) -> list[dict]:
    records, _ = models.list(1, 10**9)
    base = str(request.base_url).rstrip("/")
    return [{"name": m["model_name"], "voice_id": m["model_id"], "preview_url": base + m["refer_wav_url"],
             "lang": _lang(m["prompt_language"])} for m in records]
