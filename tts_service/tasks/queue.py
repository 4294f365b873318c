"""The worker pool: asyncio workers that hand each task to a thread, so the event loop stays free.

At-least-once: a task is marked `run` (with one more attempt) before its synthesis starts; if the process
dies, start-up finds it still `run` and queues it again, until it has used `max_attempts`.
Cancelling sets a flag the synthesis polls at each segment boundary (`should_cancel`); every write the
worker makes goes through the backend, which refuses to touch a finished or deleted task (or, with
Redis, a task whose lease this process lost), so a cancelled task cannot come back, and a refused
progress write stops the synthesis too. Workers take work from the backend (`next_task`): the file store's
in-process queue, or with Redis the queue every process shares, whoever received the task.

Two pools of workers, each asking the backend for its own kind of task: `workers` synthesis workers and
`training_workers` training workers (fine-tunes, hours each). So a synthesis queued behind a training
starts as soon as a synthesis worker is free, and while one runs the training yields between its steps
(`synthesis_running` marks it, as a synthesis slot marks a direct one). With no training workers this
process runs no fine-tune; with Redis another process may (a device of its own for training).

The store may go away for a while (Redis down or paused): a worker never dies of that, nor of anything
else one iteration raises. It logs, backs off (retry.py) and goes on; a progress write that fails is
skipped, a task's final write is retried until it lands, and a task given up on (at shutdown) is released,
so that with leases it is taken again rather than kept alive forever.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AbstractContextManager
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from GPT_SoVITS.pipeline import CancelledError, SynthesisError, SynthesisOptions

from ..engine import SpeechEngine
from ..envelope import ApiError
from ..finetuning import FINETUNE, Finetuner
from . import files
from .backend import TaskBackend
from .limits import TaskLimits
from .logs import TaskLogs
from .record import (CANCELLED, CANCELLED_MESSAGE, DONE, ERROR, FAILED, RUN, SYNTHESIS, WAIT, kind_of,
                     new_entry, progress_percent, result_url)
from .retry import Backoff, GaveUp, until_done

log = logging.getLogger("tts_service.tasks")
PENDING_SUFFIX = ".pending.wav"  # a finished synthesis not yet moved to output/tasks/<id>.wav

Resolve = Callable[[dict], SynthesisOptions]  # the stored request fields -> options (raises ApiError)


class TaskQueue:
    def __init__(self, backend: TaskBackend, logs: TaskLogs, output_dir: Path, *, resolve: Resolve,
                 engine: SpeechEngine, workers: int = 1, max_attempts: int = 3,
                 retry_delays: tuple[float, float] | None = None, limits: TaskLimits = TaskLimits(),
                 finetuner: Finetuner | None = None, training_workers: int = 1,
                 synthesis_running: Callable[[], AbstractContextManager] = contextlib.nullcontext):
        self.backend, self.logs, self.limits = backend, logs, limits
        self.output_dir = Path(output_dir)
        self.resolve, self.engine, self.finetuner = resolve, engine, finetuner
        self.workers, self.max_attempts = max(1, workers), max(1, max_attempts)
        self.training_workers = max(0, training_workers)
        self.synthesis_running = synthesis_running  # held while a task's synthesis runs: training yields
        self._tasks: list[asyncio.Task] = []
        self._executor: ThreadPoolExecutor | None = None
        self._gate = threading.Lock()  # claim vs delete: a task is either taken or removed, never both
        # Count and create as one step, so concurrent submissions cannot pass a limit together. Within
        # this process; other processes sharing Redis may each add one more at the same instant.
        self._admit = threading.Lock()
        self._cancelled: set[str] = set()
        self._running: dict[str, dict] = {}
        self._stopping = threading.Event()
        self._stop_requested: asyncio.Event | None = None  # wakes workers backing off at shutdown
        self.retry_delays = retry_delays or (None, None)  # (first, longest); None: retry.py's defaults
        self.loop_errors = 0  # worker iterations that failed (logged, then retried after a back-off)

    # --- life cycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        report = await asyncio.to_thread(self._recover)
        self._stop_requested = asyncio.Event()
        # One thread per worker, for its wait for work and for its task in turn: waiting workers never
        # hold the threads other parts of the service use (asyncio.to_thread's pool).
        self._executor = ThreadPoolExecutor(self.workers + self.training_workers, thread_name_prefix="task-worker")
        self._tasks = [asyncio.create_task(self._worker(SYNTHESIS), name=f"task-worker-{i}")
                       for i in range(self.workers)]
        self._tasks += [asyncio.create_task(self._worker(FINETUNE), name=f"training-worker-{i}")
                        for i in range(self.training_workers)]
        log.info("task queue: %d queued again, %d interrupted, %d repaired, %d corrupt; %d worker(s), "
                 "%d training worker(s)", len(report.queued), len(report.interrupted), report.repaired,
                 len(report.corrupt), self.workers, self.training_workers)

    def _recover(self):
        report = self.backend.recover(self.max_attempts)
        for task_id in report.interrupted:
            self.logs.write(task_id, f"interrupted: the process died during {self.max_attempts} attempts", "ERROR")
        for task_id in report.queued:
            self.logs.write(task_id, "queued again after a restart")
        self._remove_orphan_audio()
        if self.finetuner is not None:
            self.finetuner.sweep(self.backend.get)
        return report

    def _remove_orphan_audio(self) -> None:
        """WAVs of tasks that no longer exist (deleted while the process was going down), and results
        written but not yet moved into place when the process died (kept only if their task is done)."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        files.remove_temp_files(self.output_dir)
        for pending in self.output_dir.glob(f".*{PENDING_SUFFIX}"):
            task_id = pending.name[1:].rsplit(".attempt", 1)[0]
            entry, final = self.backend.get(task_id), self.audio_path(task_id)
            if entry is not None and entry["status"] == DONE and not final.exists():
                files.move(pending, final)
            else:
                files.unlink(pending)
        for wav in self.output_dir.glob("*.wav"):
            if self.backend.get(wav.stem) is None:
                files.unlink(wav)

    async def stop(self, grace: float = 5.0) -> None:
        """Ask running syntheses to stop at their next segment; they go back to `wait` for the next start."""
        self._stopping.set()
        if self._stop_requested is not None:
            self._stop_requested.set()
        self.backend.stop_waiting()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _worker(self, kind: str) -> None:
        """Fetch a task of `kind`, run it, repeat, until shutdown; whatever one round raises is logged and
        waited out."""
        backoff = self._backoff()
        while not self._stopping.is_set():
            try:
                await self._work_once(kind)
                backoff.reset()
            except Exception as exc:  # never let anything end the worker: log, back off, go on
                self.loop_errors += 1
                delay = backoff.next()
                if isinstance(exc, self.backend.transient_errors):
                    log.warning("task worker: %s: %s; retrying in %.1f s", type(exc).__name__, exc, delay)
                else:
                    log.exception("task worker: unexpected error; going on in %.1f s", delay)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop_requested.wait(), delay)

    async def _work_once(self, kind: str) -> None:
        """One task of `kind` fetched and run, or none there yet (the backend's wait is short)."""
        loop = asyncio.get_running_loop()
        task_id = await loop.run_in_executor(self._executor, self.backend.next_task, kind)
        if task_id is not None and not self._stopping.is_set():  # else it waits for the next start
            await loop.run_in_executor(self._executor, self._execute, task_id, kind)

    def _backoff(self) -> Backoff:
        return Backoff(*self.retry_delays)

    def _retry(self, what: str, step: Callable[[], Any]) -> Any:
        """A backend step that must happen, tried until the store answers (GaveUp at shutdown)."""
        return until_done(step, self.backend.transient_errors, self._stopping, self._backoff(), what)

    # --- API side -------------------------------------------------------------------------------
    async def submit(self, user_id: str, task_id: str, request: dict) -> dict | None:
        """Store and queue a new task; None if the task_id is taken (by anyone). ApiError if the entry is
        too large (code 3, 413) or the queue holds too many unfinished tasks (code BUSY, 429)."""
        entry = new_entry(task_id, user_id, request)
        self.limits.check_record(entry)
        if task_id in self._running:  # a deleted task of that id is still winding down
            return None
        if not await asyncio.to_thread(self._create, entry):
            return None
        return entry

    def _create(self, entry: dict) -> bool:
        with self._admit:
            if self.backend.get(entry["task_id"]) is not None:  # taken: 409 rather than 429
                return False
            self.limits.check_room(*self.backend.count_unfinished(entry["user_id"]))
            if not self.backend.create(entry):
                return False
        self.logs.write(entry["task_id"], f"wait user_id={entry['user_id']} model_id={entry.get('model_id')} "
                                          f"text_len={len(entry.get('text') or '')}")
        return True

    def get(self, user_id: str, task_id: str) -> dict | None:
        """The task if it exists and belongs to this user (another user's task looks absent)."""
        entry = self.backend.get(task_id)
        return entry if entry is not None and entry["user_id"] == user_id else None

    def list_user(self, user_id: str) -> list[dict]:
        return self.backend.list_user(user_id)

    def audio_path(self, task_id: str) -> Path:
        return self.output_dir / f"{task_id}.wav"

    def delete(self, user_id: str, task_id: str) -> dict:
        """Waiting or finished: removed with its files. Running: ends at once as error/cancelled (kept, so
        the client sees what happened; a second DELETE removes it) and its synthesis stops at the next
        segment boundary. Blocking (file I/O): call from a thread."""
        with self._gate:
            entry = self.get(user_id, task_id)
            if entry is None:
                return {"removed": False, "cancelled": False}
            if entry["status"] == RUN:
                self._cancelled.add(task_id)
                # The worker may see the flag and end the task as cancelled before this does: then
                # this finish finds it final and the answer shows the worker's record.
                final = (self.backend.finish(task_id, ERROR, reason=CANCELLED, error=CANCELLED_MESSAGE)
                         or self.backend.get(task_id))
                self.logs.write(task_id, f"cancelled by the client at {entry['segments_done']}/"
                                         f"{entry['total_segments']} segments")
                return {"removed": False, "cancelled": True, "task": final}
            self.backend.remove(task_id)
        files.unlink(self.audio_path(task_id))
        self.logs.remove(task_id)
        return {"removed": True, "cancelled": entry["status"] == WAIT}

    def health(self) -> dict:
        """/healthz `tasks`. `queued` is None while the store is away: counting would wait for timeouts."""
        waiting = None
        if self.backend.health().get("ok"):
            with contextlib.suppress(*self.backend.transient_errors):
                waiting = sum(1 for e in self.backend.entries() if e["status"] == WAIT)
        running = [dict(task) for task in list(self._running.values())]  # a copy: workers change it
        return {"workers": self.workers, "training_workers": self.training_workers, "queued": waiting,
                "running": running}

    # --- worker side (in an executor thread) ----------------------------------------------------
    def _execute(self, task_id: str, kind: str) -> None:
        try:
            entry = self._retry(f"task {task_id}: claim", lambda: self._claim(task_id, kind))
        except GaveUp:  # shutdown during an outage; still waiting, the next start (or reconcile) has it
            return
        if entry is None:  # deleted while waiting (or taken by another process)
            return
        self._running[task_id] = {"task_id": task_id, "kind": kind, "started_at": entry["started_at"]}
        self.logs.write(task_id, f"start attempt={entry['attempts']} user_id={entry['user_id']} "
                                 f"model_id={entry.get('model_id')}")
        try:
            self._attempt(entry)
        except GaveUp as exc:  # shutdown during an outage: nothing final was written
            log.warning("task %s: given up at shutdown (%s); it runs again once its claim lapses", task_id, exc)
            self.logs.write(task_id, "stopped by a shutdown while the task store was unreachable", "ERROR")
        finally:
            self._running.pop(task_id, None)
            self._cancelled.discard(task_id)
            self.backend.release(task_id)  # whatever happened: never keep a task we stopped running alive

    def _claim(self, task_id: str, kind: str) -> dict | None:
        with self._gate:  # taken outside the retries: a DELETE never waits for an outage to end
            return self.backend.claim(task_id, kind)

    def _attempt(self, entry: dict) -> None:
        task_id = entry["task_id"]
        try:
            if kind_of(entry) == FINETUNE:
                self._finetune(entry)
            else:
                with self.synthesis_running():  # a fine-tune in this process yields to it between steps
                    self._synthesize(entry)
        except GaveUp:
            raise
        except CancelledError:
            self._on_cancel(entry)
        except (ApiError, SynthesisError) as exc:
            self._fail(task_id, exc.message if isinstance(exc, ApiError) else str(exc))
        except Exception as exc:
            self.logs.write(task_id, "failed\n" + traceback.format_exc(), "ERROR")
            self._fail(task_id, f"{type(exc).__name__}: {exc}")

    def _synthesize(self, entry: dict) -> None:
        task_id = entry["task_id"]
        lost = threading.Event()  # the backend refused a write: deleted, cancelled or (Redis) lease lost

        def on_progress(done: int, total: int) -> None:
            percent = progress_percent(done, total)
            self._running.get(task_id, {}).update(progress=percent)
            try:
                written = self.backend.update(task_id, segments_done=done, total_segments=total, progress=percent)
            except self.backend.transient_errors as exc:  # the store is away: progress is only a hint
                log.warning("task %s: progress %d/%d not recorded (%s)", task_id, done, total, exc)
                return
            if written:
                self.logs.write(task_id, f"progress {done}/{total} ({percent}%)")
            else:
                lost.set()

        should_cancel = self._cancel_check(task_id, lost)
        options = self.resolve(entry)
        sample_rate, audio = self.engine.synthesize(options, on_progress=on_progress, should_cancel=should_cancel)
        if should_cancel():
            raise CancelledError("cancelled after the last segment")
        # Written under a name of this attempt's own and moved into place only once the task is ours
        # and done: a worker that lost the task never overwrites (or removes) the new owner's result.
        pending = self.pending_audio_path(task_id, entry["attempts"])
        files.write_wav(pending, sample_rate, audio)
        done = self._retry(f"task {task_id}: finish", lambda: self.backend.finish(
            task_id, DONE, progress=100, reason=None, error=None, result_url=result_url(task_id, entry["user_id"])))
        if done is None:
            done = self._landed(task_id, entry["attempts"])
        if done is None:  # deleted in the last instant, or no longer ours: leave nothing behind
            files.unlink(pending)
            return
        files.move(pending, self.audio_path(task_id))
        self.logs.write(task_id, f"done result={task_id}.wav seconds={len(audio) / sample_rate:.2f}")

    def _cancel_check(self, task_id: str, lost: threading.Event) -> Callable[[], bool]:
        """What a running task polls between segments (or training steps): stop when cancelled, at
        shutdown, or once the backend refused one of its writes."""
        return lambda: task_id in self._cancelled or self._stopping.is_set() or lost.is_set()

    def _finetune(self, entry: dict) -> None:
        """A `finetune` task (finetuning.py): progress fields as it trains; done with the voice's new weights.
        A cancelled or failed run's folder is removed; one stopped by a shutdown is kept to resume from."""
        task_id = entry["task_id"]
        lost = threading.Event()

        def report(fields: dict) -> None:
            self._running.get(task_id, {}).update(fields)
            try:
                if not self.backend.update(task_id, **fields):
                    lost.set()
            except self.backend.transient_errors as exc:  # progress is only a hint
                log.warning("task %s: progress not recorded (%s)", task_id, exc)

        should_cancel = self._cancel_check(task_id, lost)
        if self.finetuner is None:
            raise SynthesisError("本服务未启用微调")
        try:
            weights = self.finetuner.run(entry, report, should_cancel)
        except BaseException as exc:
            if not (isinstance(exc, CancelledError) and self._stopping.is_set() and task_id not in self._cancelled):
                self.finetuner.discard(entry)
            raise
        done = self._retry(f"task {task_id}: finish", lambda: self.backend.finish(
            task_id, DONE, progress=100, eta_seconds=0, reason=None, error=None, weights=weights))
        if done is not None:
            self.logs.write(task_id, f"done: voice {entry['model_id']} uses its fine-tuned weights")

    def _landed(self, task_id: str, attempt: int) -> dict | None:
        """A `finish` refused because the task is already done by this very attempt: an earlier try
        landed but its reply was lost with the connection (the retry then found the task finished)."""
        entry = self._retry(f"task {task_id}: read", lambda: self.backend.get(task_id))
        return entry if entry and entry["status"] == DONE and entry.get("attempts") == attempt else None

    def pending_audio_path(self, task_id: str, attempt: int) -> Path:
        return self.output_dir / f".{task_id}.attempt{attempt}{PENDING_SUFFIX}"

    def _on_cancel(self, entry: dict) -> None:
        task_id = entry["task_id"]
        if task_id not in self._cancelled and self._stopping.is_set():
            # A clean shutdown: not the task's fault, so the attempt is given back.
            self._retry(f"task {task_id}: requeue", lambda: self.backend.requeue(
                task_id, attempts=max(0, entry["attempts"] - 1)))
            self.logs.write(task_id, "stopped by a shutdown: waits for the next start")
            return
        # Normally DELETE has already finished it as cancelled; this only catches a stray CancelledError.
        self._retry(f"task {task_id}: cancel", lambda: self.backend.finish(
            task_id, ERROR, reason=CANCELLED, error=CANCELLED_MESSAGE))
        self.logs.write(task_id, "synthesis stopped (cancelled)")

    def _fail(self, task_id: str, message: str) -> None:
        final = self._retry(f"task {task_id}: fail",
                            lambda: self.backend.finish(task_id, ERROR, reason=FAILED, error=message))
        if final:
            self.logs.write(task_id, f"failed: {message}", "ERROR")
