"""POST /synthesize: one synthesis, answered as a WAV file (and kept under output/direct/)."""
from __future__ import annotations

import io
import time
import uuid

import soundfile as sf
from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from GPT_SoVITS.pipeline import SynthesisError

from .. import deps
from ..engine import Engine, as_api_error
from ..schemas import SynthesisRequest, resolve_options
from ..settings import Settings
from ..storage.voice_models import VoiceModelStore

router = APIRouter(tags=["其他"])


def _wav_bytes(rate: int, samples) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@router.post("/synthesize", summary="直接合成（返回 WAV）", response_class=Response,
             responses={200: {"content": {"audio/wav": {}}, "description": "16-bit mono WAV; header "
                              "X-Output-Url gives the saved copy under /output/direct/"},
                        503: {"description": "weights missing (code 1, the message names the files)"}})
async def synthesize(req: SynthesisRequest, settings: Settings = Depends(deps.settings),
                     engine: Engine = Depends(deps.engine),
                     models: VoiceModelStore = Depends(deps.voice_models)) -> Response:
    options = await run_in_threadpool(resolve_options, req, settings, models)
    try:
        rate, samples = await run_in_threadpool(engine.synthesize, options)
    except SynthesisError as exc:
        raise as_api_error(exc) from exc
    data = _wav_bytes(rate, samples)
    # A unique name: the seed's per-second names let two calls overwrite each other.
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.wav"
    folder = settings.output_dir / "direct"
    folder.mkdir(parents=True, exist_ok=True)
    await run_in_threadpool((folder / name).write_bytes, data)
    return Response(data, media_type="audio/wav", headers={"X-Output-Url": f"/output/direct/{name}"})
