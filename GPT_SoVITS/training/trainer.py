"""The trainer protocol: all the fine-tuning command line (`GPT_SoVITS.finetune`) knows of a trainer.

`S2Trainer` (GPT_SoVITS/training/s2/, SoVITS) and `S1Trainer` (GPT_SoVITS/training/s1/, GPT) satisfy it;
the command line runs epochs of `batches` through `train_step`, calls `end_epoch`, and saves, resumes
and exports through the last three methods.

Counters: `epoch` is the number of epochs completed (0 before the first; `end_epoch` adds one) and `step`
the number of training steps taken (`train_step` adds one); `load_state` restores both. `batches` must
give the same batches, in the same order, each time it is called with the same epoch (its shuffling
seeded from the seed and the epoch), so that a run resumed in the middle of an epoch can skip the
batches already trained.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Protocol, runtime_checkable

from .prepared import PreparedDataset


@runtime_checkable
class Trainer(Protocol):
    name: str  # "s1" or "s2"
    epoch: int  # epochs completed
    step: int  # training steps taken

    def batches(self, data: PreparedDataset, batch_size: int, epoch: int) -> Iterator[Any]:
        """The batches of one epoch (0-based), the same on every call for the same epoch."""

    def train_step(self, batch: Any) -> dict[str, float]:
        """One optimisation step: "loss" (the model's total loss) and its terms, as floats."""

    def end_epoch(self) -> None:
        """The per-epoch schedule steps; `epoch` advances by one."""

    def save_state(self, folder: Path) -> None:
        """Everything a resumed run needs, into an existing empty folder: weights, optimiser, schedule,
        random generators, counters."""

    def load_state(self, folder: Path) -> None:
        """Restore what `save_state` wrote."""

    def export(self, path: Path, name: str) -> Path:
        """The reference web UI's file of the current weights (half precision, config, info, version
        header) into the folder `path`, named as the web UI names it from the experiment name `name`
        (s2: `<name>_e<epoch>_s<step>.pth`, s1: `<name>-e<epoch>.ckpt`); returns the file written."""
