"""Training one model through the `Trainer` protocol: epochs, metrics, saved states, resume, exports.

State: every `save_every_epoch` epochs (and every `save_every_steps` steps when set) the trainer's
`save_state` goes into a fresh folder beside `state/<model>/`, with this loop's `progress.json` (epoch,
step, batches of the current epoch already trained); the folder then replaces `state/<model>/` by two
renames (the previous one kept as `<model>.old` in between, used if the second rename never happened).
A run killed at any point therefore finds a whole state, and the same command goes on from it: the
batches of the saved epoch already trained are skipped, and the metrics lines written after that save
are dropped, so `metrics.jsonl` holds each step once.

Exports (`Trainer.export`, which names the files as the web UI: `<name>_e<epoch>_s<step>.pth`,
`<name>-e<epoch>.ckpt`) go to `sovits/` and `gpt/`, at every save when `if_save_every_weights`,
and always after the last epoch (before its state is saved, so a finished state always has its file).
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from GPT_SoVITS.training.prepared import PreparedDataset
from GPT_SoVITS.training.trainer import Trainer

PROGRESS = "progress.json"
EXPORT_FOLDER = {"s2": "sovits", "s1": "gpt"}


@dataclass(frozen=True)
class Schedule:
    epochs: int
    batch_size: int
    save_every_epoch: int
    save_every_steps: int = 0
    if_save_latest: bool = True
    if_save_every_weights: bool = True


def _nothing(*_args) -> None:
    return None


@dataclass(frozen=True)
class Hooks:
    """What a caller besides the command line follows and controls (the service's fine-tune task): the
    stage (`prepare`, then each model's name, `s2` and `s1`), each step's metrics record as written, and a
    call between steps (and between two clips of the preparation), after the step's state is saved when one
    is due, that may block (training yields the machine to others) or raise (a cancel: the run stops there
    and resumes from the last save; prepared clips are kept)."""

    stage: Callable[[str], None] = field(default=_nothing)
    step: Callable[[dict], None] = field(default=_nothing)
    between_steps: Callable[[], None] = field(default=_nothing)


class MetricsLog:
    """metrics.jsonl: one JSON object per training step, appended and flushed as it happens."""

    def __init__(self, path: Path):
        self.path = path

    def drop_after(self, model: str, step: int) -> None:
        """Forget the lines of `model` past `step` (steps trained again after a resume)."""
        if not self.path.exists():
            return
        lines = self.path.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if line.strip() and not _after(json.loads(line), model, step)]
        temp = self.path.with_name(self.path.name + ".tmp")
        temp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        temp.replace(self.path)

    def write(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")


def _after(record: dict, model: str, step: int) -> bool:
    return record.get("model") == model and record.get("step", 0) > step


def restore(trainer: Trainer, folder: Path) -> int:
    """Load the last saved state, if any: the batches of the current epoch it had trained (0 if none)."""
    old = folder.with_name(folder.name + ".old")
    if not folder.exists() and old.exists():  # killed between the two renames of `save`
        old.rename(folder)
    if not (folder / PROGRESS).exists():
        return 0
    trainer.load_state(folder)
    progress = json.loads((folder / PROGRESS).read_text(encoding="utf-8"))
    if (progress["epoch"], progress["step"]) != (trainer.epoch, trainer.step):
        raise RuntimeError(f"{folder}: the trainer restored epoch {trainer.epoch} step {trainer.step}, but the "
                           f"state was saved at epoch {progress['epoch']} step {progress['step']}")
    return int(progress["batches_done"])


def save(trainer: Trainer, folder: Path, batches_done: int, keep_previous: bool) -> None:
    """The trainer's state and this loop's progress into `folder`, replacing what was there atomically."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = folder.with_name(f".{folder.name}.saving")
    if temp.exists():
        shutil.rmtree(temp)
    temp.mkdir()
    trainer.save_state(temp)
    progress = {"epoch": trainer.epoch, "step": trainer.step, "batches_done": batches_done}
    (temp / PROGRESS).write_text(json.dumps(progress) + "\n", encoding="utf-8")
    old = folder.with_name(folder.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if folder.exists():
        folder.rename(old)
    temp.rename(folder)
    if old.exists():
        if keep_previous:
            previous = json.loads((old / PROGRESS).read_text(encoding="utf-8"))
            old.rename(folder.with_name(f"{folder.name}-e{previous['epoch']}-s{previous['step']}"))
        else:
            shutil.rmtree(old)


def train(trainer: Trainer, data: PreparedDataset, schedule: Schedule, out: Path, name: str, metrics: MetricsLog,
          bar: Callable[[int, int], "ProgressBar"], hooks: Hooks = Hooks()) -> list[Path]:
    """Train until `schedule.epochs` epochs are done (resuming from `out/state/<model>/`); the files exported."""
    state = out / "state" / trainer.name
    skip = restore(trainer, state)
    metrics.drop_after(trainer.name, trainer.step)
    exports: list[Path] = []
    progress = bar(schedule.epochs, trainer.epoch)
    while trainer.epoch < schedule.epochs:
        epoch = trainer.epoch
        for index, batch in enumerate(trainer.batches(data, schedule.batch_size, epoch)):
            if index < skip:
                continue
            terms = trainer.train_step(batch)
            record = {"model": trainer.name, "epoch": epoch + 1, "step": trainer.step,
                      **{key: float(value) for key, value in terms.items()}}
            metrics.write(record)
            hooks.step(record)
            progress.show(f"epoch {epoch + 1} step {trainer.step} loss {float(terms['loss']):.4f}")
            if schedule.save_every_steps and trainer.step % schedule.save_every_steps == 0:
                save(trainer, state, index + 1, not schedule.if_save_latest)
            hooks.between_steps()
        skip = 0
        trainer.end_epoch()
        progress.advance()
        last = trainer.epoch == schedule.epochs
        if last or trainer.epoch % schedule.save_every_epoch == 0:
            if last or schedule.if_save_every_weights:
                exports.append(export(trainer, out, name))
            save(trainer, state, 0, not schedule.if_save_latest)
    progress.close()
    return exports


def export(trainer: Trainer, out: Path, name: str) -> Path:
    folder = out / EXPORT_FOLDER[trainer.name]
    folder.mkdir(parents=True, exist_ok=True)
    return trainer.export(folder, name)


class ProgressBar:
    """Epochs done of a model's training, with the last step's loss (tqdm, on stderr)."""

    def __init__(self, label: str, total: int, done: int):
        import sys

        from tqdm import tqdm

        self._bar = tqdm(total=total, initial=done, desc=label, unit="epoch", file=sys.stderr)

    def show(self, text: str) -> None:
        self._bar.set_postfix_str(text, refresh=False)

    def advance(self) -> None:
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def iterate(items: Iterable, label: str, total: int) -> Iterable:
    import sys

    from tqdm import tqdm

    return tqdm(items, total=total, desc=label, unit="clip", file=sys.stderr)
