"""`S1Trainer`: fine-tune the GPT (text-to-semantic) as the reference's `s1_train.py` does, in MindSpore.

Step for step the reference's `Text2SemanticLightningModule.training_step` (manual optimisation):
every batch is a forward/backward (`models.gpt.training`) whose gradient is *added* to the ones before;
at batch index 4, 8, ... of an epoch (never 0: the first step sums 5 batches, the next ones 4, and a
tail of an epoch carries into the next, as `zero_grad` only follows a step) ScaledAdam steps
(`optim.py`) and the schedule moves (`schedule.py`: 0.01 for the first step, then the locked 0.002).
Batches come as the reference's bucket sampler orders them (`data.py`). Gradients from MindSpore's
`value_and_grad`; the optimiser works on float32 numpy copies of the weights and writes them back.

With `train.if_dpo` (off by default, as in the reference) the loss is the reference's DPO `forward`
(`models.gpt.dpo`): each batch's rejected codes are drawn from the trainer's seeded numpy generator (saved
with the state), before the dropout masks. The reference's dropout masks and rejected codes cannot be
replayed (they come from torch's generator); ours come from that seeded numpy one.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import mindspore as ms

from ...models.gpt.config import GPTConfig
from ...models.gpt.dpo import DpoLoss, make_reject_y
from ...models.gpt.model import Text2SemanticDecoder
from ...models.gpt.training import TRAINING_DROPOUT, TeacherForcedLoss, TrainingBatch, top_k_accuracy
from .config import training_config
from .data import ClipSource, Item, epoch_batches, load_items
from .export import export_gpt
from .init import initial_state
from .optim import ScaledAdam, ScaledAdamConfig
from .schedule import WarmupCosineLRSchedule

STEP_EVERY = 4  # `if batch_idx > 0 and batch_idx % 4 == 0: opt.step()`
_STATE_JSON, _WEIGHTS, _OPTIMISER, _GRADS = "s1_state.json", "s1_weights.npz", "s1_optimizer.npz", "s1_grads.npz"


class S1Trainer:
    name = "s1"

    def __init__(self, model: Text2SemanticDecoder, config: Mapping[str, Any], *, dropout: float = TRAINING_DROPOUT,
                 optimizer: ScaledAdamConfig = ScaledAdamConfig(), seed: int | None = None):
        self.model, self.config = model, dict(config)
        self.names = [name for name, _ in model.parameters_and_names()]
        self.params = [param for _, param in model.parameters_and_names()]
        self.master = {name: np.array(p.asnumpy(), np.float32) for name, p in zip(self.names, self.params)}
        self.optimizer = ScaledAdam(self.master, optimizer)
        self.schedule = WarmupCosineLRSchedule.from_config(self.config)
        self.rng = np.random.default_rng(self.config["train"]["seed"] if seed is None else seed)
        self.if_dpo = bool(self.config["train"].get("if_dpo", False))  # as the lightning module reads it
        self.loss = DpoLoss(model, dropout, self.rng) if self.if_dpo else TeacherForcedLoss(model, dropout, self.rng)
        self._value_and_grad = ms.value_and_grad(self.loss, None, self.params, has_aux=True)
        self.grads: dict[str, np.ndarray] | None = None  # summed since the last optimiser step
        self.epoch = 0  # completed epochs
        self.step = 0  # batches trained on
        self.batch_idx = 0  # within the epoch, as Lightning's
        self.optimizer_steps = 0
        self._items: tuple[int, list[Item]] | None = None

    @classmethod
    def from_pretrained(cls, ckpt: Path | None, config: Mapping[str, Any] | None = None, *, batch_size: int = 8,
                        epochs: int = 20, exp_name: str = "gpt", if_dpo: bool = False,
                        pretrained_s1: str | None = None, dropout: float = TRAINING_DROPOUT,
                        seed: int | None = None, **train: Any) -> "S1Trainer":
        """A trainer on the GPT of `ckpt` (the reference's `pretrained_s1`), or on fresh weights when None.

        `config`: an s1 config dict (default s1longer-v2); its `model` section is the checkpoint's when a
        checkpoint is given. The keyword arguments are the web UI's `train` edits, stored in the config
        that the exported files carry.
        """
        from ...weights import load_gpt_checkpoint, load_into

        checkpoint = load_gpt_checkpoint(ckpt) if ckpt is not None else None
        merged = training_config(config, model=checkpoint.config["model"] if checkpoint else None,
                                 batch_size=batch_size, epochs=epochs, exp_name=exp_name, if_dpo=if_dpo, **train)
        merged["pretrained_s1"] = pretrained_s1 if pretrained_s1 is not None else (str(ckpt) if ckpt else "")
        model = Text2SemanticDecoder(GPTConfig.from_checkpoint_config(merged))
        state = checkpoint.state if checkpoint else initial_state(model, np.random.default_rng(merged["train"]["seed"]))
        load_into(model, state, source=str(ckpt) if ckpt else "fresh weights")
        return cls(model, merged, dropout=dropout, seed=seed)

    # -- data -------------------------------------------------------------------------------------------------
    def items(self, data: ClipSource) -> list[Item]:
        if self._items is None or self._items[0] != id(data):
            self._items = (id(data), load_items(data, float(self.config["data"]["max_sec"])))
        return self._items[1]

    def batches(self, data: ClipSource, batch_size: int, epoch: int) -> Iterator[TrainingBatch]:
        return epoch_batches(self.items(data), batch_size, epoch, int(self.config["data"]["pad_val"]))

    # -- training ---------------------------------------------------------------------------------------------
    def train_step(self, batch: TrainingBatch) -> dict[str, float]:
        if self.if_dpo:  # the rejected codes first, as forward draws them before its passes
            tensors, targets = self.loss.inputs(batch, make_reject_y(batch.semantic_ids, self.rng))
            (loss, loss_1, loss_2, logits), grads = self._value_and_grad(*tensors)
            terms = {"loss_ce": float(loss_1.asnumpy()), "loss_dpo": float(loss_2.asnumpy())}
        else:
            tensors, targets = self.loss.inputs(batch)
            (loss, logits), grads = self._value_and_grad(*tensors)
            terms = {}
        self._accumulate(grads)
        metrics = {"loss": float(loss.asnumpy()), **terms,
                   "top_3_acc": top_k_accuracy(logits.asnumpy(), targets, self.model.cfg.eos),
                   "lr": self.optimizer.lr}
        if self.batch_idx > 0 and self.batch_idx % STEP_EVERY == 0:
            self._optimizer_step()
        self.batch_idx += 1
        self.step += 1
        return metrics

    def _accumulate(self, grads) -> None:
        arrays = [np.asarray(g.asnumpy(), np.float32) for g in grads]
        if self.grads is None:
            self.grads = dict(zip(self.names, arrays))
        else:
            for name, g in zip(self.names, arrays):
                self.grads[name] += g

    def _optimizer_step(self) -> None:
        self.optimizer.step(self.master, self.grads)
        self.grads = None  # zero_grad (set_to_none)
        self.optimizer.lr = self.schedule.step()
        self.optimizer_steps += 1
        self._push_weights()

    def _push_weights(self) -> None:
        for name, param in zip(self.names, self.params):
            param.set_data(ms.Tensor(self.master[name].copy()))

    def end_epoch(self) -> None:
        self.epoch += 1
        self.batch_idx = 0  # Lightning's batch_idx restarts; the summed gradient does not

    def weights(self) -> dict[str, np.ndarray]:
        """The current weights (Text2SemanticDecoder names, float32 copies)."""
        return {name: value.copy() for name, value in self.master.items()}

    # -- resume and export ------------------------------------------------------------------------------------
    def save_state(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays, scalars = self.optimizer.state_arrays()
        np.savez(folder / _WEIGHTS, **self.master)
        np.savez(folder / _OPTIMISER, **arrays)
        np.savez(folder / _GRADS, **(self.grads or {}))
        state = {"epoch": self.epoch, "step": self.step, "batch_idx": self.batch_idx,
                 "optimizer_steps": self.optimizer_steps, "has_grads": self.grads is not None,
                 "optimizer": scalars, "schedule": self.schedule.state(),
                 "rng": self.rng.bit_generator.state, "config": self.config}
        (folder / _STATE_JSON).write_text(json.dumps(state, indent=1))

    def load_state(self, folder: Path) -> None:
        folder = Path(folder)
        state = json.loads((folder / _STATE_JSON).read_text())
        with np.load(folder / _WEIGHTS) as weights:
            missing = set(self.names) - set(weights.files)
            if missing:
                raise ValueError(f"{folder}: the saved weights lack {sorted(missing)[:5]}")
            for name in self.names:
                self.master[name][...] = weights[name]
        with np.load(folder / _OPTIMISER) as arrays:
            self.optimizer.load_state_arrays(dict(arrays), state["optimizer"])
        with np.load(folder / _GRADS) as grads:
            self.grads = {name: np.array(grads[name], np.float32) for name in self.names} if state["has_grads"] else None
        self.schedule = WarmupCosineLRSchedule(**state["schedule"])
        self.rng.bit_generator.state = state["rng"]
        self.epoch, self.step, self.batch_idx = state["epoch"], state["step"], state["batch_idx"]
        self.optimizer_steps = state["optimizer_steps"]
        self._push_weights()

    def export(self, path: Path, name: str) -> Path:
        """`<path>/<name>-e<epoch>.ckpt`, the web UI's half-precision GPT file (epoch = completed epochs)."""
        return export_gpt(Path(path), name, self.epoch, self.master, self.config)
