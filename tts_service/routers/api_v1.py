"""The reference's older api.py routes: synthesis on GET and POST /, /change_refer, GET /set_model.

GET / without any synthesis parameter still leads to the admin page (pages.root). A request to / that
uses api_v2's spellings (text_lang, ref_audio_path: GPT-SoVITS-V2 forks serve api_v2 on /, and
SillyTavern's provider calls it so) is answered as /tts. Errors are api.py's
`{"code": 400, "message": ...}`.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from ..compat.audio import answer
from ..compat.errors import answered_as_v1, answered_as_v2, bad
from ..compat.options import DEFAULT_PAUSE, check_language, options_for
from ..compat.params import (ChangeReferParams, LegacyParams, TtsParams, has_any, json_body, json_values,
                             query_parameters, query_values, read)
from ..limits import check_fields
from . import models as weights
from . import pages
from .api_v2 import AUDIO, TAG, Service, service, set_default, tts, voice_of

router = APIRouter(tags=[TAG])

# api.py's cut_text: the marks cut_punc may name; a piece ends just after its mark.
CUT_MARKS = {",", ".", ";", "?", "!", "、", "，", "。", "？", "！", "；", "：", "…"}
NAMES = {"text_language": "text_language", "prompt_language": "prompt_language", "how_to_cut": "cut_punc"}
NO_REFERENCE = ("未指定参考音频且接口无预设：请传 refer_wav_path（音模 ID 或允许目录内的参考音频），"
                "或先用 /change_refer 或 --default-voice 设置默认参考")
V2_ONLY = ("text_lang", "ref_audio_path", "prompt_lang", "media_type", "streaming_mode", "text_split_method")


def cut_at(text: str, punc: str | None) -> str:
    """api.py's cut_text: a line break after each of the given marks (the pipeline synthesises each line)."""
    marks = [p for p in (punc or "") if p in CUT_MARKS]
    if marks:
        text = re.sub("([" + re.escape("".join(marks)) + "])", "\\1\n", text.strip("\n"))
    return re.sub("\n+", "\n", text)


def legacy_options(params: LegacyParams, svc: Service):
    """The options of an api.py request (blocking: reads the stores and the disk)."""
    check_fields(params, svc.settings.max_prompt_chars)
    if not params.text:
        raise bad("text is required")
    voice = voice_of(params.refer_wav_path, params.prompt_text or "", params.prompt_language, svc, NO_REFERENCE)
    prompt_language = check_language(voice.prompt_language or "auto", "prompt_language")
    voice = dataclasses.replace(voice, prompt_language=prompt_language)
    return options_for(voice, svc.settings, svc.models, names=NAMES, speed=params.speed, pause=DEFAULT_PAUSE,
                       extra_refs=params.inp_refs, text=cut_at(params.text, params.cut_punc),
                       text_language=check_language(params.text_language, "text_language"), how_to_cut="cut0",
                       top_k=params.top_k, top_p=params.top_p, temperature=params.temperature)


def is_v2(raw: dict[str, Any]) -> bool:
    return any(name in raw for name in V2_ONLY) and "text_language" not in raw and "refer_wav_path" not in raw


async def legacy(raw: dict[str, Any], svc: Service) -> Response:
    if is_v2(raw):
        return await answered_as_v2(tts)(raw, svc)
    params = read(LegacyParams, raw)
    options, streamed = await run_in_threadpool(legacy_options, params, svc)
    return await answer(svc.engine, options, streamed, "wav", svc.slots, "api.py")


LEGACY_AUDIO = {**AUDIO, 200: {"content": {"audio/wav": {}}, "description": "WAV"},
                307: {"description": "GET without synthesis parameters: to the admin page (/index)"},
                400: {"description": "`{\"code\": 400, \"message\": ...}`"}}


@router.get("/", summary="合成（api.py 兼容）；无参数时跳转到管理页", response_class=Response,
            responses=LEGACY_AUDIO, openapi_extra={"parameters": query_parameters(LegacyParams)},
            description="api.py's GET /: the parameters below as query strings; WAV, or 400. With none of "
                        "them, a redirect to the admin page (/index).")
@answered_as_v1
async def root(request: Request, svc: Service = Depends(service)) -> Response:
    raw = query_values(request, LegacyParams)
    if not raw and not has_any(dict(request.query_params), TtsParams):
        return pages.root()
    if is_v2(dict(request.query_params)):
        return await answered_as_v2(tts)(query_values(request, TtsParams), svc)
    return await legacy(raw, svc)


@router.post("/", summary="合成（api.py 兼容，POST）", response_class=Response, responses=LEGACY_AUDIO,
             openapi_extra={"requestBody": json_body(LegacyParams)},
             description="api.py's POST /: the same fields as a JSON object (api_v2's /tts fields are "
                         "answered as /tts).")
@answered_as_v1
async def root_post(request: Request, svc: Service = Depends(service)) -> Response:
    return await legacy(await json_values(request), svc)


async def change_refer(raw: dict[str, Any], svc: Service) -> JSONResponse:
    params = read(ChangeReferParams, raw)
    await run_in_threadpool(set_default, params, svc, "refer_wav_path")
    return JSONResponse({"code": 0, "message": "Success"})


@router.get("/change_refer", summary="设置默认参考音频（api.py 兼容）",
            openapi_extra={"parameters": query_parameters(ChangeReferParams)},
            description="The reference of / and /tts requests that name none: a voice model id (its transcript "
                        "and language by default) or an allowed clip with prompt_text and prompt_language. "
                        "Per process, until the next change.")
@answered_as_v1
async def change_refer_get(request: Request, svc: Service = Depends(service)) -> JSONResponse:
    return await change_refer(query_values(request, ChangeReferParams), svc)


@router.post("/change_refer", summary="设置默认参考音频（api.py 兼容，POST）",
             openapi_extra={"requestBody": json_body(ChangeReferParams)})
@answered_as_v1
async def change_refer_post(request: Request, svc: Service = Depends(service)) -> JSONResponse:
    return await change_refer(await json_values(request), svc)


@router.get("/set_model", summary="切换模型权重（api.py 兼容，GET）",
            description="api.py's GET /set_model: the same as POST /set_model, from query parameters.")
async def set_model_get(gpt_model_path: str | None = None, sovits_model_path: str | None = None,
                        svc: Service = Depends(service)) -> dict:
    body = weights.SetModelBody(gpt_model_path=gpt_model_path, sovits_model_path=sovits_model_path)
    return await weights.set_model(body, svc.engine, svc.settings)
