"""The batching scheduler (`pipeline/scheduler.py`) on a stand-in batch: who gets a slot, what a cancel
frees, what a failure touches, and that a request's segments are handed over in the order promised."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from GPT_SoVITS.models.backends import SamplingOptions, SemanticBatchDecoder
from GPT_SoVITS.pipeline.errors import CancelledError
from GPT_SoVITS.pipeline.models_lock import ModelsLock
from GPT_SoVITS.pipeline.scheduler import SegmentsAhead, SemanticScheduler

DEADLINE = 30.0


class StandInBatch:
    """Each utterance emits `phoneme_ids.size` codes (its first one at `add`), one per step; the code is
    its first phoneme id. Records what happened, in order."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.decoding: list[SimpleNamespace] = []
        self.events: list[tuple[str, int]] = []  # ("add" | "step" | "remove", utterance id or batch size)

    def warm_up_stages(self, *, background):
        return []

    def has_room(self, positions=0):
        return len(self.decoding) < self.capacity

    def add(self, phoneme_ids, prompt, features, options=SamplingOptions(), early_stop_num=None, seed=None):
        if phoneme_ids[0] < 0:
            raise ValueError("bad phonemes")
        handle = SimpleNamespace(uid=int(phoneme_ids[0]), left=int(phoneme_ids.size) - 1, codes=[int(phoneme_ids[0])])
        self.events.append(("add", handle.uid))
        if handle.left:
            self.decoding.append(handle)
        return handle, [(handle.uid, handle.left == 0)]

    def step(self):
        self.events.append(("step", len(self.decoding)))
        chosen = []
        for handle in list(self.decoding):
            handle.left -= 1
            handle.codes.append(handle.uid)
            chosen.append((handle, [(handle.uid, handle.left == 0)]))
            if not handle.left:
                self.decoding.remove(handle)
        return chosen

    def finished(self, handle):
        return handle.left == 0

    def result(self, handle):
        return SimpleNamespace(tokens=np.asarray(handle.codes))

    def remove(self, handle):
        self.events.append(("remove", handle.uid))
        if handle in self.decoding:
            self.decoding.remove(handle)

    def __len__(self):
        return len(self.decoding)


class StandInGPT:
    def __init__(self, capacity: int):
        self.batch = StandInBatch(capacity)

    def new_batch(self, batch_sizes):
        return self.batch


def scheduler_on(capacity: int) -> tuple[SemanticScheduler, StandInBatch, ModelsLock]:
    gpt, lock = StandInGPT(capacity), ModelsLock()
    assert isinstance(gpt.batch, SemanticBatchDecoder)
    return SemanticScheduler(gpt, lock, tuple(range(1, capacity + 1))), gpt.batch, lock


def utterance(uid: int, codes: int) -> np.ndarray:
    return np.full(codes, uid, np.int64)


def submit(scheduler, uid, codes, owner, **kwargs):
    return scheduler.submit(utterance(uid, codes), None, np.zeros((1, codes)), SamplingOptions(), 0, owner, **kwargs)


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_every_stream_gets_its_own_codes_and_result():
    scheduler, batch, _ = scheduler_on(capacity=3)
    streams = {uid: submit(scheduler, uid, codes, owner=uid) for uid, codes in ((1, 5), (2, 9), (3, 1), (4, 4))}
    for uid, stream in streams.items():
        pairs = list(stream)
        assert [code for code, _ in pairs] == [uid] * len(pairs)
        assert [last for _, last in pairs][-1] and not any(last for _, last in pairs[:-1])
        assert stream.result().tokens.tolist() == [uid] * len(pairs)
    assert max(size for kind, size in batch.events if kind == "step") == 3  # never more than it holds
    scheduler.close()


def test_a_free_slot_goes_to_the_request_with_fewest_segments_in_the_batch():
    """A long text's six segments were queued first; another request's one segment, queued after them,
    is admitted at the first free slot, not after the whole text."""
    scheduler, batch, lock = scheduler_on(capacity=2)
    long_text, other = object(), object()
    with lock.request():  # the scheduler can admit nothing until everything is queued
        streams = [submit(scheduler, 10 + i, 4, owner=long_text) for i in range(6)]
        late = submit(scheduler, 99, 4, owner=other)
    late.result()
    for stream in streams:
        stream.result()
    admitted = [uid for kind, uid in batch.events if kind == "add"]
    assert admitted.index(99) <= 1, admitted  # beside the long text's first segment
    assert [uid for uid in admitted if uid != 99] == [10 + i for i in range(6)]  # each request's in order
    scheduler.close()


def test_a_cancelled_stream_leaves_the_batch_and_the_others_finish():
    scheduler, batch, _ = scheduler_on(capacity=4)
    keep = submit(scheduler, 1, 20_000, owner=1)
    drop = submit(scheduler, 2, 10_000, owner=2)
    wait_until(lambda: len(batch.decoding) == 2, "both in the batch")
    drop.cancel()
    with pytest.raises(CancelledError):
        drop.result()
    assert ("remove", 2) in batch.events
    assert len(keep.result().tokens) == 20_000
    wait_until(lambda: not batch.decoding, "an empty batch")
    scheduler.close()


def test_should_cancel_is_checked_between_steps():
    scheduler, batch, _ = scheduler_on(capacity=2)
    stop = threading.Event()
    stream = submit(scheduler, 7, 100_000, owner=7, should_cancel=stop.is_set)
    wait_until(lambda: batch.decoding, "decoding")
    stop.set()
    with pytest.raises(CancelledError):
        stream.result()
    wait_until(lambda: not batch.decoding, "the slot freed")
    scheduler.close()


def test_bad_inputs_fail_only_their_own_stream():
    scheduler, _, _ = scheduler_on(capacity=2)
    good = submit(scheduler, 3, 20, owner=1)
    bad = scheduler.submit(np.array([-1, 2]), None, np.zeros((1, 2)), SamplingOptions(), 0, owner=2)
    with pytest.raises(ValueError, match="bad phonemes"):
        bad.result()
    assert len(good.result().tokens) == 20
    scheduler.close()


def test_a_closed_scheduler_finishes_what_it_holds_and_refuses_more():
    scheduler, _, _ = scheduler_on(capacity=2)
    held = submit(scheduler, 5, 50, owner=1)
    scheduler.close()
    assert len(held.result().tokens) == 50
    with pytest.raises(RuntimeError, match="closed"):
        submit(scheduler, 6, 5, owner=1)


def _ahead(scheduler, segments: int, count: int, hold_back_first: bool) -> SegmentsAhead:
    features = lambda text: (text, utterance(int(text), 30), np.zeros((1, 30)))  # noqa: E731
    return SegmentsAhead(scheduler, features, [str(10 + i) for i in range(segments)], SamplingOptions(), None,
                         [0] * segments, None, count, hold_back_first)


@pytest.mark.parametrize("hold_back_first", [True, False])
def test_segments_ahead_with_and_without_holding_back_the_first(hold_back_first):
    """Held back (streaming): the text's other segments join only once the first one is voiced (the
    caller takes the second), so it decodes as fast as alone. Otherwise (a whole answer) the first
    `count` decode together."""
    scheduler, batch, lock = scheduler_on(capacity=8)
    ahead = _ahead(scheduler, segments=6, count=3, hold_back_first=hold_back_first)
    with lock.request():  # no step before take(0) has submitted what it submits
        taken = ahead.take(0)
    for index in range(6):
        _, stream = taken if index == 0 else ahead.take(index)
        assert stream.result().tokens.tolist() == [10 + index] * 30
    adds = [i for i, (kind, _) in enumerate(batch.events) if kind == "add"]
    before_second = [size for kind, size in batch.events[adds[0]:adds[1]] if kind == "step"]
    if hold_back_first:
        assert before_second == [1] * 29  # every step of the first one, alone
    else:
        assert len(before_second) < 29  # the others joined while it decoded
    sizes = [size for kind, size in batch.events if kind == "step"]
    assert max(sizes) <= 3  # never more than `count` of one text at once
    ahead.close()
    scheduler.close()


def test_closing_early_cancels_the_segment_being_read_and_those_submitted_ahead():
    scheduler, batch, _ = scheduler_on(capacity=8)
    features = lambda text: (text, utterance(int(text), 100_000), np.zeros((1, 1)))  # noqa: E731  (long ones)
    ahead = SegmentsAhead(scheduler, features, [str(10 + i) for i in range(6)], SamplingOptions(), None, [0] * 6,
                          None, 4, False)
    _, reading = ahead.take(0)
    wait_until(lambda: len(batch.decoding) == 4, "the first four decoding")
    ahead.close()  # the reader went away during the first segment
    wait_until(lambda: not batch.decoding and not scheduler.stats()["waiting"], "every slot freed")
    with pytest.raises(CancelledError):
        reading.result()
    assert {uid for kind, uid in batch.events if kind == "remove"} == {10, 11, 12, 13}
    assert not [uid for kind, uid in batch.events if kind == "add" and uid > 13]  # nothing past the window
    scheduler.close()


class RoomyBatch(StandInBatch):
    """As StandInBatch, with `positions` of room: an utterance takes its phonemes' count while it decodes."""

    def __init__(self, capacity: int, positions: int):
        super().__init__(capacity)
        self.positions = positions

    def has_room(self, positions=0):
        used = sum(h.left + 1 for h in self.decoding)
        return super().has_room() and (not self.decoding or used + positions <= self.positions)


def test_a_segment_waiting_for_room_is_not_overtaken_by_shorter_ones():
    gpt, lock = StandInGPT(4), ModelsLock()
    gpt.batch = RoomyBatch(capacity=4, positions=100)
    scheduler = SemanticScheduler(gpt, lock, (1, 2, 4))
    with lock.request():
        first = submit(scheduler, 1, 60, owner=1)
        long = submit(scheduler, 2, 80, owner=2)  # does not fit beside the first
        short = [submit(scheduler, 10 + i, 5, owner=3) for i in range(3)]  # would fit, but come after it
    for stream in [first, long, *short]:
        stream.result()
    admitted = [uid for kind, uid in gpt.batch.events if kind == "add"]
    assert admitted.index(2) < min(admitted.index(10 + i) for i in range(3)), admitted
    scheduler.close()


class StoppingBatch(StandInBatch):
    """Stops utterance 66 early at its first step, as the GPT batch does past its memory ceiling."""

    def step(self):
        for handle in list(self.decoding):
            if handle.uid == 66:
                handle.stopped = RuntimeError("decoding memory is full")
                self.decoding.remove(handle)
        return super().step()

    def finished(self, handle):
        return hasattr(handle, "stopped") or super().finished(handle)

    def result(self, handle):
        if hasattr(handle, "stopped"):
            raise handle.stopped
        return super().result(handle)


def test_a_segment_the_batch_stops_early_fails_as_busy_and_the_rest_go_on():
    from GPT_SoVITS.pipeline.errors import BusyError

    gpt, lock = StandInGPT(4), ModelsLock()
    gpt.batch = StoppingBatch(capacity=4)
    scheduler = SemanticScheduler(gpt, lock, (1, 2, 4))
    stopped, other = submit(scheduler, 66, 50, owner=1), submit(scheduler, 7, 50, owner=2)
    with pytest.raises(BusyError, match="decoding memory is full"):
        stopped.result()
    assert len(other.result().tokens) == 50
    scheduler.close()
