"""One task entry: its states, the reasons a task ends in `error`, and the fields a client sees.

An entry is a plain dict (it is the JSON file on disk and the `data` of the API, key for key), with the
seed's keys first and in the seed's order, so existing clients keep working.
"""
from __future__ import annotations

import secrets
import time

# States: wait -> run -> done | error. A task in `error` always carries a reason.
WAIT, RUN, DONE, ERROR = "wait", "run", "done", "error"
LIVE = (WAIT, RUN)
TERMINAL = (DONE, ERROR)

# What a task does: a synthesis (the default, and what entries without `kind` are), or a voice's
# fine-tune (tts_service/finetuning.py, its own progress fields: stage, epoch, step, loss, eta_seconds).
SYNTHESIS = "synthesis"


def kind_of(entry: dict) -> str:
    """The task's kind; entries written before tasks had kinds are syntheses. Each kind has its own
    dispatch queue in the backends, so a worker asks only for the kinds it runs."""
    return entry.get("kind") or SYNTHESIS

# Why a task ended in `error`.
FAILED = "failed"  # the synthesis raised (bad input, missing weights, ...); `error` has the message
CANCELLED = "cancelled"  # the client deleted it while it ran
INTERRUPTED = "interrupted"  # the process died under it `task_max_attempts` times

CANCELLED_MESSAGE = "任务已被取消"
INTERRUPTED_MESSAGE = "服务多次在运行该任务时中断，已放弃"


def now() -> int:
    return int(time.time())


def new_task_id() -> str:
    """`T` + milliseconds in base 36 + 6 random characters, like the admin page's ids (sortable by time)."""
    millis, digits = int(time.time() * 1000), ""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    while millis:
        millis, rest = divmod(millis, 36)
        digits = alphabet[rest] + digits
    return "T" + digits + "".join(secrets.choice(alphabet) for _ in range(6))


def new_entry(task_id: str, user_id: str, request: dict) -> dict:
    """A fresh `wait` entry; `request` holds the synthesis fields exactly as submitted."""
    stamp = now()
    entry = {
        "task_id": task_id,
        "user_id": user_id,
        "status": WAIT,
        "progress": 0,
        "segments_done": 0,
        "total_segments": 0,
        "created_at": stamp,
        "updated_at": stamp,
    }
    entry.update({k: v for k, v in request.items() if k not in ("task_id", "user_id")})
    entry.update({
        "reason": None,
        "error": None,
        "attempts": 0,
        "started_at": None,
        "finished_at": None,
        "result_url": None,
    })
    return entry


def progress_percent(done: int, total: int) -> int:
    return (done * 100) // total if total > 0 else 0


def result_url(task_id: str, user_id: str) -> str:
    from urllib.parse import quote

    return f"/voice-tasks/{task_id}/audio?user_id={quote(user_id, safe='')}"


def newest_first(entries: list[dict]) -> list[dict]:
    """Listing order: newest submission first; the id breaks ties so pages never overlap."""
    return sorted(entries, key=lambda e: (e.get("created_at", 0), e["task_id"]), reverse=True)
