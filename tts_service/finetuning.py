"""The service's seam to GPT_SoVITS.finetune: one fine-tune task of a voice model, run in a task worker.

A run works in its own folder, `voices/<model_id>/finetune/<task_id>/` (the command's `--out`): its
first attempt writes there the `.list` of the voice's training clips (later attempts train on that same
list), then `GPT_SoVITS.finetune.cli.run` prepares, trains SoVITS then GPT, and exports. The loop saves
its state as it goes, so an attempt after a crash (kill -9) goes on from the last saved step. Between
steps the run stops if the task was cancelled (`CancelledError`) and waits while syntheses run or wait
(`yield_to`): synthesis keeps priority over training. Its MindSpore work never runs beside a synthesis's
(MindSpore crashes when two threads compute at once): the run holds the engine's models' lock
(`models_turn`) throughout, except between steps, where it gives it back, waits for the syntheses and takes
it again once the models were left alone for a moment. So a synthesis waits at most for the step in flight
(or for the preparation of the clips, which holds it as one piece). At the end (stage `export`) the last exported files
are copied into `voices/<model_id>/weights/` and the voice switches to them in one store write; the run
folder is then removed. A failure changes nothing on the voice.

The training starts from the service's GPT/SoVITS files (`--gpt-path`, `--sovits-path`: the released base
models unless set otherwise), with the service's HuBERT/BERT/speaker-verifier files.
"""
from __future__ import annotations

import contextlib
import logging
import math
import shutil
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from GPT_SoVITS.pipeline import CancelledError, SynthesisError

from .settings import Settings
from .storage.voice_models import VoiceModelStore
from .storage.voice_weights import WEIGHTS_FOLDER, record_weights

log = logging.getLogger("tts_service.finetune")

FINETUNE = "finetune"  # the task kind
RUNS_FOLDER = "finetune"  # voices/<model_id>/finetune/<task_id>/
LIST_FILE = "train.list"
STAGES = {"prepare": "prepare", "s2": "sovits", "s1": "gpt"}  # the loop's stage -> the task's
EXPORT = "export"
# The command's knobs a task may set (JSON name -> its flag); the command's defaults for the rest.
KNOB_FLAGS = {"sovits_epochs": "--sovits-epochs", "gpt_epochs": "--gpt-epochs", "batch_size": "--batch-size",
              "gpt_batch_size": "--gpt-batch-size", "sovits_save_every_epoch": "--sovits-save-every-epoch",
              "gpt_save_every_epoch": "--gpt-save-every-epoch", "save_every_steps": "--save-every-steps",
              "text_low_lr_rate": "--text-low-lr-rate", "learning_rate_scale": "--learning-rate-scale",
              "seed": "--seed"}
SWITCH_FLAGS = {"if_dpo": "--if-dpo"}  # the command's on/off knobs a task may turn on (JSON true -> the flag)

Report = Callable[[dict], None]  # progress fields of the task entry
Cancelled = Callable[[], bool]


@dataclass
class Estimate:
    """Steps done and to do, and the time left from this attempt's pace."""

    steps_per_epoch: dict[str, int]
    epochs: dict[str, int]
    started: float | None = None  # when this attempt's first step was reported
    first_done: int = 0  # steps done by then (a resumed run starts past 0)

    def total(self) -> int:
        return sum(self.steps_per_epoch[m] * self.epochs[m] for m in self.epochs)

    def done(self, model: str, step: int) -> int:
        """Steps of both models done when `model` is at `step` (SoVITS trains first)."""
        return step + (self.steps_per_epoch["s2"] * self.epochs["s2"] if model == "s1" else 0)

    def fields(self, model: str, step: int) -> dict:
        done, total = self.done(model, step), max(1, self.total())
        if self.started is None:
            self.started, self.first_done = time.monotonic(), done
        pace = (time.monotonic() - self.started) / (done - self.first_done) if done > self.first_done else None
        eta = None if pace is None else round(pace * max(0, total - done), 1)
        return {"progress": min(99, done * 100 // total), "eta_seconds": eta}


class Finetuner:
    def __init__(self, settings: Settings, voice_models: VoiceModelStore,
                 yield_to: Callable[[Cancelled], object] = lambda cancelled: None,
                 models_turn: Callable[[], AbstractContextManager] = contextlib.nullcontext):
        self.settings, self.voice_models, self.yield_to = settings, voice_models, yield_to
        self.models_turn = models_turn

    def run_folder(self, model_id: str, task_id: str) -> Path:
        return self.voice_models.private_folder(model_id) / RUNS_FOLDER / task_id

    def check_ready(self, model_id: str) -> int:
        """ApiError unless the voice has training clips, all transcribed; their number."""
        return self.voice_models.training.write_list(model_id, None)

    def sweep(self, task_of: Callable[[str], dict | None]) -> int:
        """At start-up: remove the run folders of tasks that are gone or finished (deleted while waiting
        again after a crash, or given up as interrupted); those of waiting or running tasks stay."""
        from .tasks.record import LIVE  # here: the tasks package imports this module

        removed = 0
        for run in self.settings.voices_dir.glob(f"*/{RUNS_FOLDER}/*"):
            entry = task_of(run.name)
            if entry is None or entry["status"] not in LIVE:
                shutil.rmtree(run, ignore_errors=True)
                removed += 1
        return removed

    def discard(self, entry: dict) -> None:
        """Remove a run's folder (cancelled or failed: nothing to resume)."""
        shutil.rmtree(self.run_folder(entry["model_id"], entry["task_id"]), ignore_errors=True)

    # ---- one run -----------------------------------------------------------------------------
    def run(self, entry: dict, report: Report, cancelled: Cancelled) -> dict:
        """Train the voice of `entry` (a `finetune` task); the voice's new weights as clients see them."""
        model_id, task_id, knobs = entry["model_id"], entry["task_id"], dict(entry.get("finetune") or {})
        self.voice_models.require(model_id)
        out = self.run_folder(model_id, task_id)
        list_path = out / LIST_FILE
        if not list_path.exists():  # the first attempt fixes the clips; a resumed one trains on the same
            self.voice_models.training.write_list(model_id, list_path)
        options = self._options(list_path, out, model_id, knobs)
        clips = sum(1 for line in list_path.read_text(encoding="utf-8").splitlines() if line.strip())
        per_epoch = {"s2": math.ceil(clips / options.batch_size), "s1": math.ceil(clips / options.gpt_batch_size)}
        estimate = Estimate(per_epoch, {"s2": options.sovits_epochs, "s1": options.gpt_epochs})
        self._train(options, estimate, report, cancelled)
        report({"stage": EXPORT, "progress": 99, "eta_seconds": 0})
        weights = self._install(model_id, task_id, out)
        shutil.rmtree(out, ignore_errors=True)  # prepared features and states: large, no longer needed
        return weights

    def _options(self, list_path: Path, out: Path, model_id: str, knobs: dict):
        from GPT_SoVITS.finetune.options import parse_options

        settings = self.settings
        argv = ["--list", str(list_path), "--out", str(out), "--name", model_id,
                "--version", _version_of(settings.sovits_path),
                "--pretrained-s1", settings.gpt_path, "--pretrained-s2G", settings.sovits_path,
                "--cnhubert-base-path", settings.cnhubert_base_path, "--bert-path", settings.bert_path,
                "--sv-path", settings.sv_path, "--device-target", settings.device_target or "CPU"]
        for key, flag in KNOB_FLAGS.items():
            if knobs.get(key) is not None:
                argv += [flag, str(knobs[key])]
        argv += [flag for key, flag in SWITCH_FLAGS.items() if knobs.get(key)]
        return parse_options(argv)  # the knobs were bounded by the request's schema: no argparse exit here

    def _train(self, options, estimate: Estimate, report: Report, cancelled: Cancelled) -> None:
        from GPT_SoVITS.finetune.cli import run
        from GPT_SoVITS.finetune.errors import FinetuneError
        from GPT_SoVITS.finetune.loop import Hooks

        turn = contextlib.ExitStack()  # the models' lock while the run computes

        def between_steps() -> None:
            turn.close()  # the models are the syntheses' while the training waits
            if cancelled():
                raise CancelledError("fine-tune cancelled between steps")
            self.yield_to(cancelled)
            if cancelled():
                raise CancelledError("fine-tune cancelled while yielding to syntheses")
            turn.enter_context(self.models_turn())

        def step(record: dict) -> None:
            report({"stage": STAGES[record["model"]], "epoch": record["epoch"], "step": record["step"],
                    "loss": round(float(record["loss"]), 6), **estimate.fields(record["model"], record["step"])})

        hooks = Hooks(stage=lambda name: report({"stage": STAGES[name]}), step=step, between_steps=between_steps)
        try:
            with turn:
                turn.enter_context(self.models_turn())
                run(options, hooks)
        except FinetuneError as exc:
            raise SynthesisError(f"微调失败：{exc}") from exc

    def _install(self, model_id: str, task_id: str, out: Path) -> dict:
        """Copy the last exported files into the voice's weights folder and switch the voice to them."""
        self.voice_models.require(model_id)
        folder = self.voice_models.private_folder(model_id) / WEIGHTS_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        installed: dict[str, Path | None] = {}
        for role, sub, suffix in (("gpt", "gpt", ".ckpt"), ("sovits", "sovits", ".pth")):
            exported = _newest(out / sub, suffix)
            if exported is None:
                installed[role] = None
                continue
            target = folder / f"{task_id}-{exported.name}"
            temp = target.with_name(f".{target.name}.copying")
            shutil.copyfile(exported, temp)
            temp.replace(target)
            installed[role] = target
        if not any(installed.values()):
            raise SynthesisError("微调没有导出任何权重（两个模型的训练轮数都是 0？）")
        weights = record_weights(installed["gpt"], installed["sovits"], True, self.settings, task_id)
        try:
            record = self.voice_models.set_weights(model_id, weights)
        except BaseException:  # the voice was deleted meanwhile: leave none of its files behind
            for path in installed.values():
                if path is not None:
                    path.unlink(missing_ok=True)
            raise
        log.info("voice %s now uses its fine-tuned weights of task %s", model_id, task_id)
        return record["weights"]


def _newest(folder: Path, suffix: str) -> Path | None:
    files = [path for path in folder.glob(f"*{suffix}") if path.is_file()] if folder.is_dir() else []
    return max(files, key=lambda path: path.stat().st_mtime_ns, default=None)


def _version_of(sovits_path: str) -> str:
    """The model version of the SoVITS file training starts from (the prepared features follow it)."""
    from GPT_SoVITS.weights.checkpoints import load_sovits_checkpoint

    try:
        return load_sovits_checkpoint(sovits_path).version.model
    except Exception as exc:
        raise SynthesisError(f"无法读取微调起点的 SoVITS 权重：{Path(sovits_path).name}（{exc}）") from exc
