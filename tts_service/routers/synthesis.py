"""POST /synthesize: one synthesis, answered whole (and kept under output/direct/) or, with
"stream": true, sent segment by segment as it is synthesised; WAV by default, or another format."""
from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from .. import deps
from ..admission import SynthesisSlots
from ..audio_formats import FORMATS, AudioFormat, EncodingError, check_format, encode, format_list
from ..engine import SpeechEngine
from ..envelope import BAD_PARAM, FAILED, ApiError
from ..schemas import DirectSynthesisRequest
from ..settings import Settings
from ..storage.voice_models import VoiceModelStore
from ..streaming import streamed_audio

router = APIRouter(tags=["其他"])


def requested_format(name: str | None) -> AudioFormat:
    fmt = check_format(name)
    if fmt is None:
        raise ApiError(BAD_PARAM, f"音频格式不支持：{name}（可选 {format_list()}）")
    return fmt


async def encoded(samples, rate: int, fmt: AudioFormat, slots: SynthesisSlots) -> bytes:
    try:
        return await slots.run(encode, samples, rate, fmt)
    except EncodingError as exc:
        raise ApiError(FAILED, str(exc), 500) from exc


@router.post("/synthesize", summary="直接合成（WAV 或其他格式，可流式）", response_class=Response,
             responses={200: {"content": {f.media_type: {} for f in FORMATS.values()},
                              "description": "16-bit mono audio (WAV by default); whole, with header "
                              "X-Output-Url giving the saved copy under /output/direct/, or streamed"},
                        503: {"description": "weights missing (code 1, the message names the files), or "
                                             "busy: every synthesis slot taken (code 4, Retry-After)"}})
async def synthesize(req: DirectSynthesisRequest, settings: Settings = Depends(deps.settings),
                     engine: SpeechEngine = Depends(deps.engine),
                     models: VoiceModelStore = Depends(deps.voice_models),
                     slots: SynthesisSlots = Depends(deps.synthesis_slots)) -> Response:
    fmt = requested_format(req.response_format)
    options, streamed = await run_in_threadpool(req.decode, settings, models)
    if streamed:
        label = f"synthesize {uuid.uuid4().hex[:12]} ({fmt.name})"
        return await streamed_audio(engine, options, fmt, label, slots)
    async with slots.hold():  # the slot covers the encoding too: both are the heavy part
        rate, samples = await slots.run(engine.synthesize, options)
        data = await encoded(samples, rate, fmt, slots)
    # A unique name: the seed's per-second names let two calls overwrite each other.
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.{fmt.extension}"
    folder = settings.direct_output_dir
    folder.mkdir(parents=True, exist_ok=True)
    await run_in_threadpool((folder / name).write_bytes, data)
    return Response(data, media_type=fmt.media_type,
                    headers={"X-Output-Url": f"/output/direct/{name}", "X-Sample-Rate": str(rate)})
