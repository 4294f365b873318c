"""The reference's learning-rate schedule for GPT training (`AR/modules/lr_schedulers.py`).

`WarmupCosineLRSchedule` is built from the config's `optimizer` section (lr_init, lr, lr_end,
warmup_steps, decay_steps) and computes a linear warm-up then a cosine decay, but its `step()` then
overrides the result: `self.lr = lr = self.end_lr = 0.002` ("locked"). As the reference runs it (stepped
after each optimiser step, never before the first), the optimiser takes its first step at ScaledAdam's
constructor lr (0.01, `configure_optimizers`) and every later one at 0.002. Kept exactly so.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

LOCKED_LR = 0.002  # the reference's override in `step()`


@dataclass
class WarmupCosineLRSchedule:
    init_lr: float
    peak_lr: float
    end_lr: float
    warmup_steps: int = 10000
    total_steps: int = 400000
    current_step: int = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "WarmupCosineLRSchedule":
        """From an s1 config's `optimizer` section, as `configure_optimizers` does."""
        opt = config["optimizer"]
        return cls(init_lr=float(opt["lr_init"]), peak_lr=float(opt["lr"]), end_lr=float(opt["lr_end"]),
                   warmup_steps=int(opt["warmup_steps"]), total_steps=int(opt["decay_steps"]))

    def scheduled(self, step: int) -> float:
        """The warm-up / cosine value the reference computes for `step` (before its lock)."""
        if step < self.warmup_steps:
            return self.init_lr + (self.peak_lr - self.init_lr) / self.warmup_steps * step
        if step > self.total_steps:
            return self.end_lr
        ratio = (step - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        return self.end_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (self.peak_lr - self.end_lr)

    def step(self) -> float:
        """Advance one optimiser step; the learning rate for the next one."""
        self.scheduled(self.current_step)  # computed (and discarded) as in the reference
        self.end_lr = LOCKED_LR
        self.current_step += 1
        return LOCKED_LR

    def state(self) -> dict[str, Any]:
        return asdict(self)
