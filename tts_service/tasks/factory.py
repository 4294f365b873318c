"""Which task backend a service uses (kept apart from the contract in backend.py, which knows none of its
implementations)."""
from __future__ import annotations

from ..settings import Settings
from .backend import TaskBackend


def make_backend(settings: Settings) -> TaskBackend:
    """The file store by default; with `redis_url`, the shared Redis queue (an unreachable Redis is an
    error at start-up, raised within seconds, rather than a silent fall-back to one process)."""
    if settings.redis_url:
        from .redis_backend import RedisTaskBackend

        return RedisTaskBackend.from_url(settings.redis_url)
    from .store import FileTaskStore

    return FileTaskStore(settings.task_dir, settings.done_dir, settings.error_dir)
