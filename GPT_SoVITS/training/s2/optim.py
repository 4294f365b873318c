"""torch.optim.AdamW and ExponentialLR as s2_train.py uses them, step for step.

AdamW (torch's defaults besides lr, betas, eps: weight_decay 0.01, no amsgrad): per step t, with
g the gradient,   p <- p * (1 - lr * wd);   m <- m + (1 - b1) (g - m);   v <- b2 v + (1 - b2) g^2;
p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
in that order and in float32, the bias corrections in float64 as torch computes them. A parameter
without a gradient (the frozen quantiser's projection) is skipped entirely, weight decay included.
Groups carry their own learning rate: the reference trains the text side (text_embedding,
encoder_text, mrte) at lr x text_low_lr_rate. ExponentialLR multiplies each group's rate by gamma once per
epoch (and once before the first, as s2_train.py does).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import mindspore as ms
from mindspore import ops

TORCH_ADAMW_WEIGHT_DECAY = 0.01


@dataclass
class ParamGroup:
    params: list[ms.Parameter]
    lr: float


@dataclass
class AdamW:
    groups: list[ParamGroup]
    betas: tuple[float, float]
    eps: float
    weight_decay: float = TORCH_ADAMW_WEIGHT_DECAY
    step_count: int = 0
    exp_avg: dict[str, ms.Tensor] = field(default_factory=dict)
    exp_avg_sq: dict[str, ms.Tensor] = field(default_factory=dict)

    def step(self, grads: dict[str, ms.Tensor]) -> None:
        """One update of every parameter that has a gradient in `grads` (by parameter name)."""
        self.step_count += 1
        b1, b2 = self.betas
        bias_correction1 = 1 - b1 ** self.step_count
        bias_correction2_sqrt = (1 - b2 ** self.step_count) ** 0.5
        for group in self.groups:
            step_size = group.lr / bias_correction1
            for p in group.params:
                g = grads.get(p.name)
                if g is None:
                    continue
                m = self.exp_avg.get(p.name, ops.zeros_like(g))
                v = self.exp_avg_sq.get(p.name, ops.zeros_like(g))
                value = p * (1 - group.lr * self.weight_decay)
                m = m + (g - m) * (1 - b1)
                v = v * b2 + g * g * (1 - b2)
                denom = ops.sqrt(v) / bias_correction2_sqrt + self.eps
                p.set_data(value - step_size * (m / denom))
                self.exp_avg[p.name], self.exp_avg_sq[p.name] = m, v

    def schedule_step(self, gamma: float) -> None:
        """ExponentialLR.step(): every group's rate times gamma."""
        for group in self.groups:
            group.lr *= gamma

    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays, json-able scalars) to save; `load_state` takes them back."""
        arrays = {f"exp_avg.{k}": v.asnumpy() for k, v in self.exp_avg.items()}
        arrays.update({f"exp_avg_sq.{k}": v.asnumpy() for k, v in self.exp_avg_sq.items()})
        return arrays, {"step": self.step_count, "lrs": [g.lr for g in self.groups]}

    def load_state(self, arrays: dict[str, np.ndarray], scalars: dict) -> None:
        if len(scalars["lrs"]) != len(self.groups):
            raise ValueError("the saved optimiser has another number of parameter groups")
        self.step_count = int(scalars["step"])
        for group, lr in zip(self.groups, scalars["lrs"]):
            group.lr = float(lr)
        self.exp_avg = {k[len("exp_avg."):]: ms.Tensor(v) for k, v in arrays.items() if k.startswith("exp_avg.")}
        self.exp_avg_sq = {k[len("exp_avg_sq."):]: ms.Tensor(v) for k, v in arrays.items()
                           if k.startswith("exp_avg_sq.")}
