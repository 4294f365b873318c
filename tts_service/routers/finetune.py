"""POST /voice-models/{model_id}/finetune: fine-tune a voice on its training data, as a task of kind
`finetune` in the durable queue (followed and cancelled through /voice-tasks like any task)."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from .. import deps
from ..envelope import BAD_PARAM, RESOURCE, ApiError, ok
from ..finetuning import FINETUNE, KNOB_FLAGS, SWITCH_FLAGS, Finetuner
from ..limits import check_fields
from ..settings import Settings
from ..storage.ids import check_id, check_user_id
from ..storage.voice_models import VoiceModelStore
from ..tasks.queue import TaskQueue
from ..tasks.record import LIVE, new_task_id

router = APIRouter(tags=["音模管理"])
# What a fine-tune task's entry reports as it runs (besides the queue's own fields).
PROGRESS_FIELDS = {"stage": "wait", "epoch": 0, "step": 0, "loss": None, "eta_seconds": None, "weights": None}
NO_TRAINING_WORKERS = "本服务不运行微调任务：以 --training-workers 0 启动（设为 1 或以上才可微调）"


class FinetuneRequest(BaseModel):
    """The command line's knobs (python -m GPT_SoVITS.finetune), bounded; left out: its defaults."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "user_id": "admin", "sovits_epochs": 8, "gpt_epochs": 15, "batch_size": 4}]})

    user_id: str | None = Field(None, description="owner of the task (required)")
    task_id: str | None = Field(None, description="letters, digits, _ and -; empty: the server makes one")
    sovits_epochs: int | None = Field(None, ge=0, le=100, description="SoVITS (s2) epochs; 0 skips it (default 8)")
    gpt_epochs: int | None = Field(None, ge=0, le=100, description="GPT (s1) epochs; 0 skips it (default 15)")
    batch_size: int | None = Field(None, ge=1, le=64, description="clips per step (default 4)")
    gpt_batch_size: int | None = Field(None, ge=1, le=64, description="GPT clips per step (default batch_size)")
    sovits_save_every_epoch: int | None = Field(None, ge=1, le=100, description="SoVITS: save every N epochs")
    gpt_save_every_epoch: int | None = Field(None, ge=1, le=100, description="GPT: save every N epochs")
    save_every_steps: int | None = Field(None, ge=0, le=100000, description="also save every N steps (0: at "
                                                                            "epoch saves only)")
    text_low_lr_rate: float | None = Field(None, gt=0, le=1, description="SoVITS text encoder's share of the "
                                                                         "learning rate (default 0.4)")
    learning_rate_scale: float | None = Field(None, gt=0, le=10, description="multiplies both learning rates")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="random seed (default 1234)")
    if_dpo: bool | None = Field(None, description="GPT: train with the reference's DPO loss (default false; "
                                                  "about twice the GPT time)")

    def knobs(self) -> dict:
        return {key: getattr(self, key) for key in (*KNOB_FLAGS, *SWITCH_FLAGS) if getattr(self, key) is not None}


def _has_live_finetune(queue: TaskQueue, model_id: str) -> bool:
    return any(e.get("kind") == FINETUNE and e.get("model_id") == model_id and e["status"] in LIVE
               for e in queue.backend.entries())


@router.post("/voice-models/{model_id}/finetune", summary="微调音模",
             description="Queues a task of kind `finetune` (data = its entry). GET /voice-tasks/{task_id}?user_id= "
                         "shows stage (wait, prepare, sovits, gpt, export), epoch, step, loss, progress and "
                         "eta_seconds; DELETE cancels it. A restart resumes it from its last saved step. On success "
                         "the voice uses the new weights (its record's `weights`, the task's `weights`); a failure "
                         "leaves the voice as it was, the reason in `error`.")
async def start_finetune(model_id: str, body: FinetuneRequest, queue: TaskQueue = Depends(deps.task_queue),
                         settings: Settings = Depends(deps.settings),
                         store: VoiceModelStore = Depends(deps.voice_models)) -> dict:
    check_fields(body, settings.max_prompt_chars)
    user_id = check_user_id((body.user_id or "").strip() or None)
    task_id = check_id(body.task_id.strip(), "task_id") if (body.task_id or "").strip() else new_task_id()
    if not queue.training_workers and not settings.redis_url:  # nobody could ever run it
        raise ApiError(BAD_PARAM, NO_TRAINING_WORKERS, 403)
    store.require(model_id)
    finetuner: Finetuner = queue.finetuner
    await asyncio.to_thread(finetuner.check_ready, model_id)
    if await asyncio.to_thread(_has_live_finetune, queue, model_id):
        raise ApiError(RESOURCE, "该音模已有进行中的微调任务", 409)
    request = {"kind": FINETUNE, "model_id": model_id, "finetune": body.knobs(), **PROGRESS_FIELDS}
    entry = await queue.submit(user_id, task_id, request)
    if entry is None:
        raise ApiError(RESOURCE, "任务已存在", 409)
    return ok(entry)
