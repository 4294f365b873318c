"""ScaledAdam (the reference's `AR/modules/optim.py`, from icefall), in numpy float32.

What it does, per parameter tensor `p` with gradient `g` (one parameter group, as `configure_optimizers`):
- a momentum `delta`, decayed by beta1 every step, to which every update is added; `p += delta`;
- tensors (more than one element): an Adam step scaled by the tensor's RMS, `-lr (1 - beta1) rms g /
  (sqrt(E[g^2] / bc2) + eps)`; every `size_update_period` steps the RMS is re-measured and, after the
  first period, the tensor's overall scale is learnt from the summed `sum(p * g)` of the period;
- scalars (one element): plain Adam at `lr * scalar_lr_scale`, the value clamped to +-scalar_max first;
- clipping: the model's norm of RMS-scaled gradients is recorded every step; every
  `clipping_update_period` steps the threshold becomes `clipping_scale` x the median of the period,
  and from then on a larger norm scales the gradients down.

Details kept exactly (they change the numbers):
- The clipping factor only scales the gradients fed to the *size* statistics: the Adam step itself
  re-reads the unclipped gradient (`_step` takes `p.grad`, not the scaled local).
- The reference batches equally shaped tensors and keeps the shared state (step, norms, threshold) in
  the first batch, sorted by (dtype, *shape); the per-tensor arithmetic is the same, so here each tensor
  has its own state and the clipping norm sums the tensors in that sorted order.
- Python-float hyper-parameters times float32 arrays stay float32, as in torch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np

NORM_EPS = 1.0e-20  # `tot_norm + 1e-20` in the clipping factor


@dataclass(frozen=True)
class ScaledAdamConfig:
    """The reference's arguments; defaults as `Text2SemanticLightningModule.configure_optimizers` sets them
    (lr=0.01, betas=(0.9, 0.95), clipping_scale=2.0, clipping_update_period=1000) over ScaledAdam's own."""

    lr: float = 0.01
    betas: tuple[float, float] = (0.9, 0.95)
    clipping_scale: float | None = 2.0
    scalar_lr_scale: float = 0.1
    eps: float = 1.0e-08
    param_min_rms: float = 1.0e-05
    param_max_rms: float = 3.0
    scalar_max: float = 10.0
    size_update_period: int = 4
    clipping_update_period: int = 1000


def _reduce_axes(p: np.ndarray) -> tuple[int, ...]:
    return tuple(range(p.ndim))


@dataclass
class _TensorState:
    delta: np.ndarray
    exp_avg_sq: np.ndarray
    param_rms: np.ndarray | None = None  # scalar arrays (keepdims shape) for tensors, None for scalars
    scale_exp_avg_sq: np.ndarray | None = None
    scale_grads: np.ndarray | None = None  # [size_update_period, 1, ...]


@dataclass
class _Clipping:
    model_norms: np.ndarray | None = None  # float32 [clipping_update_period], made on the first clipped step
    model_norm_threshold: float | None = None
    num_clipped: int | None = None


class ScaledAdam:
    """`step(params, grads, lr)` updates the float32 arrays of `params` in place (names -> arrays)."""

    def __init__(self, params: Mapping[str, np.ndarray], config: ScaledAdamConfig = ScaledAdamConfig()):
        self.config = config
        self.lr = config.lr  # the group's lr: the schedule sets it after each step
        self.step_count = 0  # the reference's `state["step"]`, equal for every tensor
        self.names = list(params)
        # The reference's batch order: (dtype, *shape) sorted, then the tensors in model order.
        self._order = sorted(self.names, key=lambda n: (tuple(params[n].shape), self.names.index(n)))
        self.states: dict[str, _TensorState] = {}
        self.clipping = _Clipping()

    def _init_state(self, p: np.ndarray) -> _TensorState:
        state = _TensorState(delta=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
        if p.size > 1:
            rms = np.sqrt(np.mean(p * p, axis=_reduce_axes(p), keepdims=True, dtype=np.float32)).astype(np.float32)
            state.param_rms = rms
            state.scale_exp_avg_sq = np.zeros_like(rms)
            state.scale_grads = np.zeros((self.config.size_update_period,) + rms.shape, np.float32)
        return state

    def step(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> float:
        """One optimiser step at `self.lr`; returns the clipping factor used (1.0 when none)."""
        initialised = bool(self.states)
        clip = self._clipping_factor(grads) if initialised else 1.0
        for name in self.names:
            if name not in self.states:
                self.states[name] = self._init_state(params[name])
            self._step_one(params[name], grads[name], self.states[name], clip)
        self.step_count += 1
        return clip

    # -- clipping -------------------------------------------------------------------------------------------
    def _clipping_factor(self, grads: Mapping[str, np.ndarray]) -> float:
        cfg, step = self.config, self.step_count
        if cfg.clipping_scale is None or step == 0:
            return 1.0
        period = cfg.clipping_update_period
        total = np.float32(0.0)
        for name in self._order:
            state, g = self.states[name], grads[name]
            if state.param_rms is None:  # a scalar
                total += np.sum(g * g, dtype=np.float32)
            else:
                scaled = g * state.param_rms
                total += np.sum(scaled * scaled, dtype=np.float32)
        norm = np.sqrt(np.float32(total))
        clipping = self.clipping
        if clipping.model_norms is None:
            clipping.model_norms = np.zeros(period, np.float32)
        clipping.model_norms[step % period] = norm
        if step % period == 0:
            ordered = np.sort(clipping.model_norms)
            quartiles = [float(ordered[min(period - 1, (period // 4) * n)]) for n in range(5)]
            clipping.model_norm_threshold = cfg.clipping_scale * quartiles[2]
            clipping.num_clipped = 0
        if step < period or clipping.model_norm_threshold is None:
            return 1.0
        factor = min(1.0, float(np.float32(clipping.model_norm_threshold) / (norm + np.float32(NORM_EPS))))
        if factor < 1.0:
            clipping.num_clipped += 1
        return factor

    # -- one tensor -----------------------------------------------------------------------------------------
    def _step_one(self, p: np.ndarray, grad: np.ndarray, state: _TensorState, clip: float) -> None:
        cfg, step = self.config, self.step_count
        beta1 = cfg.betas[0]
        scaled_grad = grad * np.float32(clip) if clip != 1.0 else grad
        state.delta *= np.float32(beta1)
        if p.size > 1:
            period = cfg.size_update_period
            state.scale_grads[step % period] = np.sum(p * scaled_grad, axis=_reduce_axes(p), keepdims=True,
                                                      dtype=np.float32)
            if step % period == period - 1:
                state.param_rms[...] = np.sqrt(np.mean(p * p, axis=_reduce_axes(p), keepdims=True, dtype=np.float32))
                if step > 0:
                    self._size_update(p, state)
            self._step_tensor(p, grad, state)
        else:
            self._step_scalar(p, grad, state)

    def _size_update(self, p: np.ndarray, state: _TensorState) -> None:
        cfg, step = self.config, self.step_count
        beta1, beta2 = cfg.betas
        size_lr = self.lr * cfg.scalar_lr_scale
        period = cfg.size_update_period
        beta2_corr = beta2 ** period
        grads = state.scale_grads
        state.scale_exp_avg_sq *= np.float32(beta2_corr)
        state.scale_exp_avg_sq += np.mean(grads * grads, axis=0, dtype=np.float32) * np.float32(1 - beta2_corr)
        size_step = (step + 1) // period
        bias_correction2 = 1 - beta2_corr ** size_step
        denom = np.sqrt(state.scale_exp_avg_sq) + np.float32(cfg.eps)
        scale_step = np.float32(-size_lr * bias_correction2 ** 0.5) * np.sum(grads, axis=0, dtype=np.float32) / denom
        scale_step = np.where(state.param_rms < cfg.param_min_rms, np.float32(0.0), scale_step)
        scale_step = np.where(state.param_rms > cfg.param_max_rms, np.float32(-size_lr * period), scale_step)
        state.delta += (p * scale_step.astype(np.float32)) * np.float32(1 - beta1)

    def _step_tensor(self, p: np.ndarray, grad: np.ndarray, state: _TensorState) -> None:
        cfg, step = self.config, self.step_count
        beta1, beta2 = cfg.betas
        state.exp_avg_sq *= np.float32(beta2)
        state.exp_avg_sq += grad * grad * np.float32(1 - beta2)
        exp_avg_sq = state.exp_avg_sq
        bias_correction2 = 1 - beta2 ** (step + 1)
        if bias_correction2 < 0.99:
            exp_avg_sq = exp_avg_sq * np.float32(1.0 / bias_correction2)
        denom = np.sqrt(exp_avg_sq) + np.float32(cfg.eps)
        alpha = np.float32(-self.lr * (1 - beta1)) * np.maximum(state.param_rms, np.float32(cfg.param_min_rms))
        state.delta += (grad / denom) * alpha
        p += state.delta

    def _step_scalar(self, p: np.ndarray, grad: np.ndarray, state: _TensorState) -> None:
        cfg, step = self.config, self.step_count
        beta1, beta2 = cfg.betas
        state.exp_avg_sq *= np.float32(beta2)
        state.exp_avg_sq += grad * grad * np.float32(1 - beta2)
        bias_correction2 = 1 - beta2 ** (step + 1)
        denom = np.sqrt(state.exp_avg_sq / np.float32(bias_correction2)) + np.float32(cfg.eps)
        state.delta += (grad / denom) * np.float32(-self.lr * cfg.scalar_lr_scale * (1 - beta1))
        np.clip(p, -cfg.scalar_max, cfg.scalar_max, out=p)
        p += state.delta

    # -- resume ---------------------------------------------------------------------------------------------
    def state_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays, json-able scalars) holding everything `load_state_arrays` needs to continue exactly."""
        arrays: dict[str, np.ndarray] = {}
        for name, state in self.states.items():
            for key, value in asdict(state).items():
                if value is not None:
                    arrays[f"{name}/{key}"] = value
        if self.clipping.model_norms is not None:
            arrays["clipping/model_norms"] = self.clipping.model_norms
        scalars = {"lr": self.lr, "step": self.step_count, "initialised": sorted(self.states),
                   "model_norm_threshold": self.clipping.model_norm_threshold,
                   "num_clipped": self.clipping.num_clipped, "config": asdict(self.config)}
        return arrays, scalars

    def load_state_arrays(self, arrays: Mapping[str, np.ndarray], scalars: Mapping) -> None:
        self.lr, self.step_count = float(scalars["lr"]), int(scalars["step"])
        self.states = {}
        for name in scalars["initialised"]:
            fields = {key: np.array(arrays[f"{name}/{key}"], np.float32) for key in _TensorState.__dataclass_fields__
                      if f"{name}/{key}" in arrays}
            self.states[name] = _TensorState(**fields)
        norms = arrays.get("clipping/model_norms")
        self.clipping = _Clipping(None if norms is None else np.array(norms, np.float32),
                                  scalars["model_norm_threshold"], scalars["num_clipped"])

