"""Fine-tune tasks on the Redis-backed queue (a real redis-server, as test_tasks_redis.py): the in-process
fine-tune tests of test_finetune_tasks.py run again with every app on Redis, and the record lives there."""
from __future__ import annotations

import pytest

import test_finetune_tasks as finetune_tests
from test_finetune_tasks import doubles, sentences  # noqa: F401  (fixtures)
from support.tasks import settings_for
from test_tasks_redis import redis_server, redis_url  # noqa: F401  (fixtures)
from tts_service.tasks.redis_backend import RedisTaskBackend

ON_REDIS = ("test_a_finetune_task_reports_progress_and_switches_the_voice",
            "test_cancel_stops_between_steps_and_leaves_the_voice_as_it_was",
            "test_a_failed_training_leaves_the_voice_as_it_was_with_the_reason")


@pytest.fixture
def on_redis(monkeypatch, redis_url):  # noqa: F811
    monkeypatch.setattr(finetune_tests, "settings_for",
                        lambda data_dir, **o: settings_for(data_dir, redis_url=redis_url, **o))
    return RedisTaskBackend.from_url(redis_url)


@pytest.mark.parametrize("name", ON_REDIS)
def test_finetune_behaviour_holds_on_redis(name, tmp_path, on_redis, request):
    test = getattr(finetune_tests, name)
    arguments = test.__code__.co_varnames[:test.__code__.co_argcount]
    test(**{arg: tmp_path if arg == "tmp_path" else request.getfixturevalue(arg) for arg in arguments})
    entries = on_redis.entries()
    assert len(entries) == 1 and entries[0]["kind"] == "finetune"
    assert not list((tmp_path / "data" / "task").glob("*.json"))  # the record lived in Redis only
