"""POST /set_model: load other GPT / SoVITS weights, swapping them in only once they are loaded."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from GPT_SoVITS.pipeline import SynthesisError
from GPT_SoVITS.weights import WeightLoadError

from .. import deps
from ..engine import SpeechEngine
from ..envelope import BAD_PARAM, ApiError, ok
from ..limits import check_fields
from ..schemas import is_file
from ..settings import Settings

router = APIRouter(tags=["其他"])
WEIGHT_SUFFIXES = {".ckpt", ".pth"}


class SetModelBody(BaseModel):
    gpt_model_path: str | None = Field(None, description="GPT (s1) .ckpt on the server", examples=[
        "GPT_SoVITS/pretrained_models/gsv-v2final-pretrained/s1bert25hz-5kh-longer-epoch=12-step=369668.ckpt"])
    sovits_model_path: str | None = Field(None, description="SoVITS (s2 generator) .pth on the server",
                                          examples=["GPT_SoVITS/pretrained_models/gsv-v2final-pretrained/s2G2333k.pth"])


def check_weight_file(path: str | None, field: str) -> str | None:
    if not path:
        return None
    if Path(path).suffix.lower() not in WEIGHT_SUFFIXES or not is_file(Path(path)):
        raise ApiError(BAD_PARAM, f"{field} 必须是已存在的 .ckpt/.pth 文件")
    return path


def names_a_given_file(exc: SynthesisError, paths: list[str]) -> bool:
    """True when loading failed on a file the caller named (unreadable, of another kind, or hostile):
    the caller's to fix. `WeightLoadError` messages start with the file; the engine resolves the paths."""
    cause = exc.__cause__
    return isinstance(cause, WeightLoadError) and any(
        str(cause).startswith(str(Path(path).expanduser().resolve())) for path in paths)


@router.post("/set_model", summary="切换模型权重",
             description="先加载新权重，成功后再整体替换（进行中的合成用旧模型完成）；失败则保留旧模型。"
                         "成功后写入数据目录的 gweight.txt / sweight.txt，重启后仍然生效。")
async def set_model(body: SetModelBody, engine: SpeechEngine = Depends(deps.engine),
                    settings: Settings = Depends(deps.settings)) -> dict:
    check_fields(body, settings.max_prompt_chars)
    gpt = check_weight_file(body.gpt_model_path, "gpt_model_path")
    sovits = check_weight_file(body.sovits_model_path, "sovits_model_path")
    if not gpt and not sovits:
        raise ApiError(BAD_PARAM, "缺少模型路径")
    try:
        status = await run_in_threadpool(engine.set_model, gpt, sovits)
    except SynthesisError as exc:
        if names_a_given_file(exc, [path for path in (gpt, sovits) if path]):
            raise ApiError(BAD_PARAM, str(exc)) from exc
        raise  # the envelope's synthesis error handler answers
    return ok(status, "Success")
