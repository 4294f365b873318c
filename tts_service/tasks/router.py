"""The /voice-tasks endpoints (任务队列): submit, list, query, read, delete/cancel, download.

Every read and delete names the user (`user_id`, a query parameter on GET/DELETE): another user's
task answers exactly like a task that does not exist.
"""
from __future__ import annotations

import asyncio
import re

import soundfile as sf
from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, Response

from .. import deps
from ..audio_formats import EncodingError, check_format, encode, format_list
from ..envelope import BAD_PARAM, FAILED, RESOURCE, ApiError, ok, paged
from ..limits import check_fields
from ..settings import Settings
from ..storage.ids import check_id, check_user_id
from ..storage.voice_models import VoiceModelStore
from .queue import TaskQueue
from .record import DONE, SYNTHESIS, new_task_id
from .schemas import TaskQueryRequest, TaskSubmitRequest

router = APIRouter(prefix="/voice-tasks", tags=["任务队列"])

NOT_FOUND = "not found"  # the seed's message
MAX_PAGE_SIZE = 100


def _user(user_id: str | None) -> str:
    return check_user_id((user_id or "").strip() or None)


def _split_ids(*values: str | None) -> list[str]:
    """`a,b c`, `a，b、c`: the separators the seed and its admin page accept."""
    return [part for value in values if value for part in re.split(r"[,，、\s]+", value) if part]


def _listing(queue: TaskQueue, user_id: str, ids: list[str], page: int, page_size: int) -> dict:
    if ids:  # id mode: the user's tasks among the ids, in the order asked (repeats repeat)
        found = [task for task in (queue.get(user_id, tid) for tid in ids) if task is not None]
        return paged(found, len(found), 1, max(len(found), 1))
    page, page_size = max(1, page), min(MAX_PAGE_SIZE, max(1, page_size))
    tasks = queue.list_user(user_id)
    start = (page - 1) * page_size
    return paged(tasks[start:start + page_size], len(tasks), page, page_size)


@router.post("", summary="提交任务")
async def submit_task(body: TaskSubmitRequest, queue: TaskQueue = Depends(deps.task_queue),
                      settings: Settings = Depends(deps.settings),
                      models: VoiceModelStore = Depends(deps.voice_models)) -> dict:
    user_id = _user(body.user_id)
    task_id = check_id(body.task_id.strip(), "task_id") if (body.task_id or "").strip() else new_task_id()
    # Check the request now (language, cut, model, clip path, text length): a bad one fails here with
    # code 3 / 2 instead of an `error` task later. The options are built again when the task runs.
    await asyncio.to_thread(body.to_options, settings, models)
    entry = await queue.submit(user_id, task_id, {**body.synthesis_fields(), "kind": SYNTHESIS})
    if entry is None:
        raise ApiError(RESOURCE, "任务已存在", 409)
    return ok(entry)


@router.get("", summary="查询任务（批量/分页）")
def list_tasks(queue: TaskQueue = Depends(deps.task_queue), user_id: str | None = None, ids: str | None = None,
               task_ids: str | None = None, task_id: str | None = None,
               page: int = 1, page_size: int = 10) -> dict:
    return _listing(queue, _user(user_id), _split_ids(ids, task_ids, task_id), page, page_size)


@router.post("/query", summary="批量查询任务（JSON）")
def query_tasks(body: TaskQueryRequest, queue: TaskQueue = Depends(deps.task_queue),
                settings: Settings = Depends(deps.settings)) -> dict:
    check_fields(body, settings.max_prompt_chars)
    ids = [tid.strip() for tid in body.task_ids if tid and tid.strip()]
    return _listing(queue, _user(body.user_id), ids, body.page, body.page_size)


def _own_task(queue: TaskQueue, task_id: str, user_id: str | None) -> dict:
    task = queue.get(_user(user_id), task_id)
    if task is None:
        raise ApiError(RESOURCE, NOT_FOUND, 404)
    return task


@router.get("/{task_id}", summary="查询单个任务")
def get_task(task_id: str, queue: TaskQueue = Depends(deps.task_queue),
             user_id: str | None = Query(None, description="owner")) -> dict:
    return ok(_own_task(queue, task_id, user_id))


@router.delete("/{task_id}", summary="删除/取消任务")
def delete_task(task_id: str, queue: TaskQueue = Depends(deps.task_queue),
                user_id: str | None = Query(None, description="owner")) -> dict:
    return ok(queue.delete(_user(user_id), task_id))


@router.get("/{task_id}/audio", summary="下载任务结果（WAV，或 format=mp3/opus/aac/flac/pcm）",
            response_class=FileResponse)
def task_audio(task_id: str, queue: TaskQueue = Depends(deps.task_queue),
               user_id: str | None = Query(None, description="owner"),
               format: str = Query("wav", description=f"{format_list()}; other than wav: converted on download")):
    fmt = check_format(format)
    if fmt is None:
        raise ApiError(BAD_PARAM, f"音频格式不支持：{format}（可选 {format_list()}）")
    task = _own_task(queue, task_id, user_id)
    path = queue.audio_path(task_id)
    if task["status"] != DONE or not path.is_file():
        raise ApiError(RESOURCE, "任务尚未完成，暂无音频", 409)
    filename = f"{task_id}.{fmt.extension}"
    if fmt.name == "wav":  # what the task stored
        return FileResponse(path, media_type=fmt.media_type, filename=filename)
    samples, rate = sf.read(path, dtype="int16")
    try:
        data = encode(samples, rate, fmt)
    except EncodingError as exc:
        raise ApiError(FAILED, str(exc), 500) from exc
    return Response(data, media_type=fmt.media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "X-Sample-Rate": str(rate)})
