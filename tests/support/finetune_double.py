"""A stand-in trainer satisfying `GPT_SoVITS.training.trainer.Trainer`, for the fine-tuning command's tests.

Its "model" is one number, moved each step towards the mean of the batch's clip indices; its batches
are a permutation of the clips seeded by the seed and the epoch, as the protocol asks. So a run's
metrics and final weight depend only on its arguments, and a resumed run must end exactly where an
uninterrupted one does.

Run as a script (`python tests/support/finetune_double.py <finetune flags>`) it registers itself for
both models and calls the command's `main`, for the kill -9 test. With `FINETUNE_DOUBLE_STOP_AT=<model>:<step>`
the trainer, on reaching that step, writes `<out>/stopped` and then waits forever (for the test to kill it).
"""
from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

EVENTS = "double-events.jsonl"  # what each trainer did that the tests check (loads, exports)


class DoubleTrainer:
    def __init__(self, name: str, out: Path, seed: int, learning_rate: float = 0.5):
        self.name, self.out, self.seed, self.learning_rate = name, out, seed, learning_rate
        self.epoch = 0
        self.step = 0
        self.weight = 0.0

    def _event(self, **event) -> None:
        with open(self.out / EVENTS, "a", encoding="utf-8") as stream:
            stream.write(json.dumps({"model": self.name, **event}) + "\n")

    def batches(self, data, batch_size: int, epoch: int) -> Iterator[list[int]]:
        order = np.random.default_rng([self.seed, epoch]).permutation(len(data.clips))
        for start in range(0, len(order), batch_size):
            yield order[start: start + batch_size].tolist()

    def train_step(self, batch: list[int]) -> dict[str, float]:
        target = float(np.mean(batch))
        loss = (self.weight - target) ** 2
        self.weight += self.learning_rate * (target - self.weight)
        self.step += 1
        stop = os.environ.get("FINETUNE_DOUBLE_STOP_AT", "")
        if stop == f"{self.name}:{self.step}":
            (self.out / "stopped").write_text(str(self.step))
            threading.Event().wait()  # until killed
        return {"loss": loss, "loss_target": target, "loss_weight": self.weight}

    def end_epoch(self) -> None:
        self.epoch += 1

    def save_state(self, folder: Path) -> None:
        (folder / "double.json").write_text(json.dumps({"weight": self.weight, "epoch": self.epoch, "step": self.step}))

    def load_state(self, folder: Path) -> None:
        state = json.loads((folder / "double.json").read_text())
        self.weight, self.epoch, self.step = state["weight"], state["epoch"], state["step"]
        self._event(loaded_step=self.step, loaded_epoch=self.epoch)

    def export(self, path: Path, name: str) -> Path:
        file = f"{name}_e{self.epoch}_s{self.step}.pth" if self.name == "s2" else f"{name}-e{self.epoch}.ckpt"
        target = path / file
        target.write_text(json.dumps({"weight": self.weight, "step": self.step}))
        self._event(exported=target.name)
        return target


def register() -> None:
    """Both models trained by doubles (in this process)."""
    from GPT_SoVITS.finetune import trainers

    for model in ("s2", "s1"):
        trainers.FACTORIES[model] = lambda options, data, model=model: DoubleTrainer(model, options.out, options.seed)


def write_prepared(out: Path, list_path: Path, clips: int) -> None:
    """A prepared folder whose clips match the lines of a .list written here (so nothing is prepared
    again and no model loads): fake arrays of the right dtypes."""
    from GPT_SoVITS.training.prepared import ClipRecord, write_clip, write_index

    records, lines = [], []
    for i in range(clips):
        source = (list_path.parent / f"clip{i}.wav").resolve()
        lines.append(f"{source}|spk|ZH|第{i}句。")
        records.append(ClipRecord(f"clip{i}.wav", "spk", "zh", f"第{i}句。", f"第{i}句.", 1.0, str(source)))
        write_clip(out / "prepared", f"clip{i}.wav", {
            "phones": np.arange(4), "word2ph": np.ones(4), "bert": np.zeros((1024, 4)), "audio32k": np.zeros(32000),
            "ssl": np.zeros((768, 50)), "codes": np.arange(25)})
    write_index(out / "prepared", "v2", records)
    list_path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    register()
    from GPT_SoVITS.finetune.cli import main

    sys.exit(main(sys.argv[1:]))


class ExportingDouble(DoubleTrainer):
    """A stand-in whose exports are real weight files (copies of the golden tiny GPT or SoVITS file, in the
    protocol's names), so the service really loads the fine-tuned pair. Its events go to `events_path`
    too (the run folder is removed once the fine-tune is installed). `hold` (set `hold_at` to
    (model, step)) stops the step until the event is set, without blocking cancellation checks."""

    sources: dict[str, Path] = {}  # "s1" -> a GPT .ckpt, "s2" -> a SoVITS .pth
    events_path: Path | None = None
    hold_at: tuple[str, int] | None = None
    held = threading.Event()  # set when the hold is reached
    hold = threading.Event()  # set by the test to go on
    fail_at: tuple[str, int] | None = None

    def _event(self, **event) -> None:
        super()._event(**event)
        if self.events_path is not None:
            with open(self.events_path, "a", encoding="utf-8") as stream:
                stream.write(json.dumps({"model": self.name, **event}) + "\n")

    def train_step(self, batch: list[int]) -> dict[str, float]:
        terms = super().train_step(batch)
        self._event(step=self.step, epoch=self.epoch)
        if self.fail_at == (self.name, self.step):
            raise RuntimeError("训练失败（测试）")
        if self.hold_at == (self.name, self.step):
            type(self).held.set()
            type(self).hold.wait(120)
        return terms

    def export(self, path: Path, name: str) -> Path:
        import shutil

        target = super().export(path, name)
        shutil.copyfile(self.sources[self.name], target)
        return target


def register_exporting(gpt: Path, sovits: Path, events: Path | None = None) -> None:
    """Both models trained by `ExportingDouble`s (in this process) exporting copies of these files."""
    from GPT_SoVITS.finetune import trainers

    ExportingDouble.sources = {"s1": Path(gpt), "s2": Path(sovits)}
    ExportingDouble.events_path = events
    for model in ("s2", "s1"):
        trainers.FACTORIES[model] = lambda options, data, model=model: ExportingDouble(model, options.out, options.seed)
