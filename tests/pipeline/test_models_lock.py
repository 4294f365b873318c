"""The models' lock: requests take turns; background work waits for a quiet moment."""
from __future__ import annotations

import threading
import time

from GPT_SoVITS.pipeline.models_lock import ModelsLock


def test_background_work_goes_at_once_when_no_request_came():
    lock = ModelsLock(quiet_seconds=5.0)
    entered = threading.Event()

    def enter() -> None:
        with lock.background():
            entered.set()

    worker = threading.Thread(target=enter)
    worker.start()
    worker.join(timeout=2.0)
    assert entered.is_set()


def test_background_work_waits_for_the_request_and_then_the_quiet_time():
    lock = ModelsLock(quiet_seconds=0.3)
    times: dict[str, float] = {}
    holding = threading.Event()

    def request() -> None:
        with lock.request():
            holding.set()
            time.sleep(0.2)
            times["released"] = time.monotonic()

    def background() -> None:
        holding.wait()
        with lock.background():
            times["background"] = time.monotonic()

    threads = [threading.Thread(target=request), threading.Thread(target=background)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert times["background"] - times["released"] >= lock.quiet_seconds


def test_a_request_arriving_while_background_work_waits_goes_first():
    lock = ModelsLock(quiet_seconds=0.3)
    order: list[str] = []
    first_done = threading.Event()

    def request(name: str, hold: float) -> None:
        with lock.request():
            time.sleep(hold)
            order.append(name)
        first_done.set()

    def background() -> None:
        with lock.background():
            order.append("background")

    first = threading.Thread(target=request, args=("first", 0.2))
    first.start()
    time.sleep(0.05)
    waiting = threading.Thread(target=background)
    waiting.start()
    first_done.wait(timeout=5)
    second = threading.Thread(target=request, args=("second", 0.0))  # within the quiet time: before it
    second.start()
    for thread in (first, waiting, second):
        thread.join(timeout=10)
    assert order == ["first", "second", "background"]
