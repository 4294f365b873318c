"""torch.optim.AdamW and ExponentialLR as s2_train.py uses them, step for step.

AdamW (torch's defaults besides lr, betas, eps: weight_decay 0.01, no amsgrad): per step t, with
g the gradient,   p <- p * (1 - lr * wd);   m <- m + (1 - b1) (g - m);   v <- b2 v + (1 - b2) g^2;
p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
in that order and in float32, the bias corrections in float64 as torch computes them. A parameter
without a gradient (the frozen quantiser's projection) is skipped entirely, weight decay included.
Groups carry their own learning rate: the reference trains the text side (text_embedding,
encoder_text, mrte) at lr x text_low_lr_rate. ExponentialLR multiplies each group's rate by gamma once per
epoch (and once before the first, as s2_train.py does).

The update runs in numpy (as s1's ScaledAdam): op by op in MindSpore it cost ~10 launches per parameter,
~20% of a tiny model's step on the CPU; float32 element-wise arithmetic is the same in either.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import mindspore as ms

TORCH_ADAMW_WEIGHT_DECAY = 0.01


@dataclass
class ParamGroup:
    params: list[ms.Parameter]
    lr: float


def as_array(value: "ms.Tensor | np.ndarray") -> np.ndarray:
    return value.asnumpy() if isinstance(value, ms.Tensor) else np.asarray(value)


@dataclass
class AdamW:
    groups: list[ParamGroup]
    betas: tuple[float, float]
    eps: float
    weight_decay: float = TORCH_ADAMW_WEIGHT_DECAY
    step_count: int = 0
    exp_avg: dict[str, np.ndarray] = field(default_factory=dict)
    exp_avg_sq: dict[str, np.ndarray] = field(default_factory=dict)

    def step(self, grads: "dict[str, ms.Tensor | np.ndarray]") -> None:
        """One update of every parameter that has a gradient in `grads` (by parameter name)."""
        self.step_count += 1
        b1, b2 = self.betas
        f32 = np.float32
        bias_correction1 = 1 - b1 ** self.step_count
        bias_correction2_sqrt = f32((1 - b2 ** self.step_count) ** 0.5)
        for group in self.groups:
            step_size, decay = f32(group.lr / bias_correction1), f32(1 - group.lr * self.weight_decay)
            for p in group.params:
                if p.name not in grads:
                    continue
                g = as_array(grads[p.name]).astype(np.float32, copy=False)
                m = self.exp_avg.get(p.name, np.zeros_like(g))
                v = self.exp_avg_sq.get(p.name, np.zeros_like(g))
                value = p.asnumpy() * decay
                m = m + (g - m) * f32(1 - b1)
                v = v * f32(b2) + g * g * f32(1 - b2)
                denom = np.sqrt(v) / bias_correction2_sqrt + f32(self.eps)
                p.set_data(ms.Tensor(value - step_size * (m / denom)))
                self.exp_avg[p.name], self.exp_avg_sq[p.name] = m, v

    def schedule_step(self, gamma: float) -> None:
        """ExponentialLR.step(): every group's rate times gamma."""
        for group in self.groups:
            group.lr *= gamma

    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays, json-able scalars) to save; `load_state` takes them back."""
        arrays = {f"exp_avg.{k}": v for k, v in self.exp_avg.items()}
        arrays.update({f"exp_avg_sq.{k}": v for k, v in self.exp_avg_sq.items()})
        return arrays, {"step": self.step_count, "lrs": [g.lr for g in self.groups]}

    def load_state(self, arrays: dict[str, np.ndarray], scalars: dict) -> None:
        if len(scalars["lrs"]) != len(self.groups):
            raise ValueError("the saved optimiser has another number of parameter groups")
        self.step_count = int(scalars["step"])
        for group, lr in zip(self.groups, scalars["lrs"]):
            group.lr = float(lr)
        self.exp_avg = {k[len("exp_avg."):]: np.array(v, np.float32) for k, v in arrays.items()
                        if k.startswith("exp_avg.")}
        self.exp_avg_sq = {k[len("exp_avg_sq."):]: np.array(v, np.float32) for k, v in arrays.items()
                           if k.startswith("exp_avg_sq.")}
