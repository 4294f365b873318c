"""`SemanticScheduler`: one thread per loaded model set that decodes every request's segments together.

Requests hand it segments (`submit`) and read each one's codes from a `TokenStream` as they come. The
thread admits waiting segments into the GPT's continuous batch (`SemanticBatchDecoder`) whenever it
has room, runs one batched step at a time, and hands every kept code to its stream. Each admission
and each step takes the models' lock (first come, first served), so a request voicing a finished
segment with SoVITS, or computing a segment's text features, gets its turn between two steps: first
audio does not wait for the whole batch to finish.

Fairness: a free slot goes to the waiting segment whose request has the fewest segments in the batch
(the oldest among equals), so one long text cannot hold every slot while another request waits. A
cancelled stream (a task cancel, a client that went away) leaves the batch before the next step.
"""
from __future__ import annotations

import itertools
import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from GPT_SoVITS.models.backends import SamplingOptions, SemanticBatchDecoder, SemanticModel

from .errors import BusyError, CancelledError
from .models_lock import ModelsLock

log = logging.getLogger(__name__)
_DONE = object()


class TokenStream:
    """The codes of one submitted segment, as `(code, last)` pairs while they are decoded, then its result."""

    def __init__(self, owner: object, should_cancel: Callable[[], bool] | None = None):
        self.owner = owner  # the request it belongs to (for fairness)
        self._should_cancel = should_cancel
        self._cancelled = threading.Event()
        self._items: queue.Queue = queue.Queue()
        self._result = None
        self._error: BaseException | None = None
        self._done = False

    def cancel(self) -> None:
        """Stop decoding this segment (it leaves the batch before the next step)."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set() or (self._should_cancel is not None and self._should_cancel())

    def __iter__(self) -> Iterator[tuple[int, bool]]:
        while not self._done:
            item = self._items.get()
            if item is _DONE:
                self._done = True
            else:
                yield item
        if self._error is not None:
            raise self._error

    def result(self):
        """Wait for the end of decoding; the `SemanticResult`."""
        for _ in self:
            pass
        return self._result

    # -- the scheduler's side ------------------------------------------------------------------------
    def _put(self, pairs: list[tuple[int, bool]]) -> None:
        for pair in pairs:
            self._items.put(pair)

    def _finish(self, result=None, error: BaseException | None = None) -> None:
        self._result, self._error = result, error
        self._items.put(_DONE)


@dataclass(eq=False)  # compared by identity
class _Job:
    stream: TokenStream
    args: tuple  # phoneme_ids, prompt, features
    options: SamplingOptions
    seed: int | None
    early_stop_num: int | None
    order: int
    handle: Any = field(default=None)


class SemanticScheduler:
    def __init__(self, gpt: SemanticModel, lock: ModelsLock, batch_sizes: tuple[int, ...]):
        self._batch: SemanticBatchDecoder = gpt.new_batch(batch_sizes)
        self._gpt, self._lock, self._batch_sizes = gpt, lock, batch_sizes
        self._waiting: list[_Job] = []
        self._next: _Job | None = None  # chosen, waiting for room in the batch
        self._active: list[_Job] = []
        self._wake = threading.Condition()
        self._closed = False
        self._orders = itertools.count()
        self._thread = threading.Thread(target=self._run, name="semantic-scheduler", daemon=True)
        self._thread.start()

    @property
    def batch(self) -> SemanticBatchDecoder:
        """The batch (for its warm-up stages; only this scheduler's thread steps it)."""
        return self._batch

    @property
    def capacity(self) -> int:
        return max(self._batch_sizes)

    def submit(self, phoneme_ids: np.ndarray, prompt: np.ndarray | None, features: np.ndarray,
               options: SamplingOptions, seed: int | None, owner: object,
               should_cancel: Callable[[], bool] | None = None,
               early_stop_num: int | None = None) -> TokenStream:
        """Queue one segment for decoding; its codes arrive on the returned stream. `early_stop_num`:
        the most codes (None: the model's own limit)."""
        stream = TokenStream(owner, should_cancel)
        with self._wake:
            if self._closed:
                raise RuntimeError("the scheduler is closed")
            self._waiting.append(_Job(stream, (phoneme_ids, prompt, features), options, seed, early_stop_num,
                                      next(self._orders)))
            self._wake.notify()
        return stream

    def wake(self) -> None:
        """Look at the streams now (one was cancelled)."""
        with self._wake:
            self._wake.notify()

    def close(self) -> None:
        """Refuse new segments; the thread ends once those it holds are decoded (a model swap: requests
        already running finish on the models they started with)."""
        with self._wake:
            self._closed = True
            self._wake.notify()

    def stats(self) -> dict[str, int]:
        with self._wake:
            return {"decoding": len(self._active), "waiting": len(self._waiting), "capacity": self.capacity}

    # -- the thread ----------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._waiting and not self._active:
                    self._wake.wait()
                if self._closed and not self._waiting and not self._active:
                    break
            try:
                self._drop_cancelled()
                self._admit()
                self._step()
            except Exception as exc:  # a failed step fails what was in the batch, not the thread
                log.exception("batched decoding failed")
                self._fail_active(exc)

    def _drop_cancelled(self) -> None:
        with self._wake:
            cancelled = [job for job in self._waiting + self._active if job.stream.cancelled]
            self._waiting = [job for job in self._waiting if job not in cancelled]
            self._active = [job for job in self._active if job not in cancelled]
        for job in cancelled:
            if job.handle is not None:
                self._batch.remove(job.handle)
            job.stream._finish(error=CancelledError("cancelled while decoding"))

    def _admit(self) -> None:
        """Start one waiting segment (its prefill) if the batch has room: one per step, so a burst of new
        segments does not stall those already decoding for all their prefills at once."""
        job = self._next_waiting()
        if job is None:
            return
        phoneme_ids, prompt, _ = job.args
        if not self._batch.has_room(len(phoneme_ids) + (0 if prompt is None else len(prompt))):
            self._next = job  # it keeps its turn until room frees: shorter ones do not overtake it forever
            return
        with self._wake:
            self._waiting.remove(job)
            self._next = None
        try:
            with self._lock.request():
                job.handle, pairs = self._batch.add(*job.args, options=job.options,
                                                    early_stop_num=job.early_stop_num, seed=job.seed)
        except Exception as exc:  # bad inputs of this segment: only its request fails
            job.stream._finish(error=exc)
            return
        job.stream._put(pairs)
        if self._batch.finished(job.handle):
            job.stream._finish(self._batch.result(job.handle))
        else:
            with self._wake:
                self._active.append(job)

    def _next_waiting(self) -> _Job | None:
        """The segment whose turn it is: one already chosen that waits for room, else the oldest waiting
        segment of the request with the fewest segments in the batch."""
        with self._wake:
            if self._next in self._waiting:
                return self._next
            if not self._waiting:
                return None
            in_batch: dict[int, int] = {}
            for job in self._active:
                in_batch[id(job.stream.owner)] = in_batch.get(id(job.stream.owner), 0) + 1
            return min(self._waiting, key=lambda j: (in_batch.get(id(j.stream.owner), 0), j.order))

    def _step(self) -> None:
        if not self._active:
            return
        with self._lock.request():
            chosen = self._batch.step()
        by_handle = {id(job.handle): job for job in self._active}
        for handle, pairs in chosen:
            by_handle[id(handle)].stream._put(pairs)
        for job in [job for job in self._active if self._batch.finished(job.handle)]:
            try:
                job.stream._finish(self._batch.result(job.handle))
            except Exception as exc:  # stopped early by the batch (its memory ceiling): the request may retry
                job.stream._finish(error=BusyError(f"解码资源已满，请稍后重试 (the batch stopped this segment: {exc})"))
            with self._wake:
                self._active.remove(job)

    def _fail_active(self, exc: BaseException) -> None:
        with self._wake:
            failed, self._active = self._active, []
        for job in failed:
            try:
                self._batch.remove(job.handle)
            finally:
                job.stream._finish(error=exc)


class SegmentsAhead:
    """One request's segments handed to the scheduler in order, up to `count` ahead of the one being
    voiced. With `hold_back_first`, the others wait until the first one is voiced: in a bigger batch
    every step is slower, and a streamed request's first audio should come as soon as it would alone."""

    def __init__(self, scheduler: SemanticScheduler, features: Callable[[str], tuple], segments: list[str],
                 options: SamplingOptions, prompt_codes: np.ndarray | None, seeds: list[int],
                 should_cancel: Callable[[], bool] | None, count: int, hold_back_first: bool):
        self._scheduler, self._features, self._segments = scheduler, features, segments
        self._options, self._prompt_codes, self._seeds = options, prompt_codes, seeds
        self._should_cancel, self._count, self._hold_back_first = should_cancel, max(1, count), hold_back_first
        self._submitted: dict[int, tuple[Any, TokenStream]] = {}
        self._taken: TokenStream | None = None  # the segment being voiced
        self._next = 0

    def take(self, index: int) -> tuple[Any, TokenStream]:
        """Segment `index`'s text features and its codes' stream, submitting it and those ahead as due:
        held back, nothing joins the first segment; the others start once the caller comes back for the
        second (after voicing the first: their text features and prefills would otherwise go before it)."""
        last = index if self._hold_back_first and index == 0 else index + self._count - 1
        self._submit_through(last)
        features, self._taken = self._submitted.pop(index)
        return features, self._taken

    def close(self) -> None:
        """Cancel what is still decoding: the segment being voiced and those submitted ahead (the request
        ended, perhaps early; a finished stream is not affected)."""
        for stream in [s for _, s in self._submitted.values()] + ([self._taken] if self._taken else []):
            stream.cancel()
        self._submitted.clear()
        self._scheduler.wake()

    def _submit_through(self, last: int) -> None:
        while self._next <= min(last, len(self._segments) - 1):
            target, phoneme_ids, bert = self._features(self._segments[self._next])
            stream = self._scheduler.submit(np.asarray(phoneme_ids, np.int64), self._prompt_codes, bert,
                                            self._options, self._seeds[self._next], owner=self,
                                            should_cancel=self._should_cancel)
            self._submitted[self._next] = (target, stream)
            self._next += 1

