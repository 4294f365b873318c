"""How much the task queue accepts: unfinished tasks in all and per user, and the size of one record.

"Unfinished" is `wait` or `run`: a task stops counting once it is done, failed, cancelled or deleted,
so a refused client is accepted again as soon as its earlier tasks finish.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..envelope import BAD_PARAM, ApiError, busy
from ..settings import Settings

# Retry-After for a full queue, seconds: a hint only; one task takes seconds to minutes.
RETRY_AFTER = 30.0


def record_bytes(entry: dict) -> int:
    """The size of a task's stored request: its entry as compact UTF-8 JSON."""
    return len(json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


@dataclass(frozen=True)
class TaskLimits:
    waiting: int = 0  # unfinished tasks in all; <= 0: no limit
    waiting_per_user: int = 0  # unfinished tasks of one user_id; <= 0: no limit
    record_kb: float = 0.0  # one stored entry, KiB; <= 0: no limit

    @classmethod
    def from_settings(cls, settings: Settings) -> "TaskLimits":
        return cls(settings.max_waiting_tasks, settings.max_waiting_tasks_per_user, settings.max_task_record_kb)

    def check_record(self, entry: dict) -> None:
        """ApiError code 3 (HTTP 413) when the entry would be stored larger than `record_kb`."""
        size = record_bytes(entry)
        if self.record_kb > 0 and size > self.record_kb * 1024:
            raise ApiError(BAD_PARAM, f"任务请求过大：{size / 1024:.1f} KiB，上限 {self.record_kb:g} KiB", 413,
                           {"limit_kb": self.record_kb})

    def check_room(self, unfinished: int, of_user: int) -> None:
        """ApiError code BUSY (HTTP 429, Retry-After) when one more task would pass a limit."""
        if self.waiting_per_user > 0 and of_user >= self.waiting_per_user:
            raise busy(f"该用户未完成的任务已达上限（{self.waiting_per_user} 个），请等任务完成后再提交", 429,
                       RETRY_AFTER)
        if self.waiting > 0 and unfinished >= self.waiting:
            raise busy(f"任务队列已满（未完成任务上限 {self.waiting} 个），请稍后再提交", 429, RETRY_AFTER)
