"""S2Trainer: SoVITS fine-tuning as s2_train.py does it (the `Trainer` protocol of training/trainer.py).

Start: the pretrained generator (every key of the training model, as the released s2G files hold) and
the pretrained discriminator when given, else a fresh one (torch's default initialisation: uniform
+-1/sqrt(fan_in), weight_g = ||weight_v||). A generator file without the posterior encoder (an inference
export: the web UI deletes enc_q) starts with a fresh enc_q initialised the same way, as the reference's
`load_state_dict(..., strict=False)` leaves it; any other missing or unexpected key is an error.
Optimisers: AdamW (betas, eps from s2.json, weight decay 0.01) for D, and for G four groups: everything
trainable at learning_rate, the text side (enc_p.text_embedding, encoder_text, mrte) at learning_rate x
text_low_lr_rate; ssl_proj and the quantiser stay frozen. Schedule: ExponentialLR(lr_decay), stepped once before epoch 1 and after each
epoch. Each step draws the posterior's noise, the segment starts and the dropout masks' seed from the
trainer's own generator (saved with the state, so a resumed run continues the same sequence); dropout as
the reference (p_dropout in the text encoder, 0.1 in the style encoder).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from ...audio.mel import MelSpectrogram
from ...models.sovits.config import SoVITSConfig
from ...models.sovits.discriminator import SCALE_LAYERS, DiscriminatorDims, MultiPeriodDiscriminator
from ...models.sovits.posterior import POSTERIOR_LAYERS
from ...models.sovits.training import SynthesizerTrain
from ...models.sovits.weight_norm_cells import rename_parameters
from ...weights import WeightLoadError, load_into, read_torch_checkpoint
from . import config as s2config
from .data import BatchSource
from .export import export_sovits
from .optim import AdamW, ParamGroup
from .step import Draws, S2Batch, S2Step, TrainHps, draw

TEXT_GROUPS = ("enc_p.text_embedding.", "enc_p.encoder_text.", "enc_p.mrte.")
POSTERIOR = "enc_q."  # training only: inference exports leave it out
log = logging.getLogger(__name__)


def _state_of(cell) -> dict[str, np.ndarray]:
    return {name: p.asnumpy() for name, p in cell.parameters_and_names()}


def fresh_conv_weights(cell, rng: np.random.Generator, prefix: str = "") -> dict[str, np.ndarray]:
    """torch's Conv default init of the convolutions under `prefix`: weight (or weight_v), bias ~
    U(+-1/sqrt(fan_in)); under weight_norm g = ||v|| per output, as `weight_norm` sets it from v."""
    state = {}
    for name, p in cell.parameters_and_names():
        if not name.startswith(prefix) or not name.endswith((".weight_v", ".weight")):
            continue
        shape = tuple(p.shape)
        bound = 1.0 / np.sqrt(np.prod(shape[1:]))
        v = rng.uniform(-bound, bound, shape)
        state[name] = v.astype(np.float32)
        base = name.rpartition(".")[0]
        if name.endswith(".weight_v"):
            state[base + ".weight_g"] = np.sqrt((v ** 2).reshape(shape[0], -1).sum(1)).reshape(
                (shape[0],) + (1,) * (len(shape) - 1)).astype(np.float32)
        state[base + ".bias"] = rng.uniform(-bound, bound, shape[0]).astype(np.float32)
    return state


def fresh_discriminator_weights(net_d: MultiPeriodDiscriminator, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return fresh_conv_weights(net_d, rng)


def with_posterior(net_g: SynthesizerTrain, g_state: Mapping[str, np.ndarray],
                   rng: np.random.Generator) -> Mapping[str, np.ndarray]:
    """`g_state`, with a fresh enc_q when it has none of enc_q's keys (an inference export)."""
    if any(str(key).startswith(POSTERIOR) for key in g_state):
        return g_state
    log.warning("the pretrained generator has no enc_q (an inference export): the posterior encoder starts "
                "from scratch (torch's default initialisation), as the reference's non-strict load leaves it")
    return {**g_state, **fresh_conv_weights(net_g, rng, POSTERIOR)}


def discriminator_dims(d_state: Mapping[str, np.ndarray]) -> DiscriminatorDims:
    """The widths (and the scale discriminator's groups) of a discriminator's weights: the released s2D
    files' are the reference's; a smaller model's D its own, as its G's dims come from the G file."""
    scale = [np.shape(d_state[f"discriminators.0.convs.{i}.weight_v"]) for i in range(len(SCALE_LAYERS))]
    channels = tuple(int(shape[0]) for shape in scale)
    groups = tuple(int(c_in) // int(shape[1]) for c_in, shape in zip((1,) + channels[:-1], scale))
    periods = tuple(int(np.shape(d_state[f"discriminators.1.convs.{i}.weight_v"])[0])
                    for i in range(len(DiscriminatorDims().period_channels)))
    return DiscriminatorDims(channels, groups, periods)


class S2Trainer:
    name = "s2"

    def __init__(self, version: str, hps: Mapping[str, Any], g_state: Mapping[str, np.ndarray],
                 d_state: Mapping[str, np.ndarray] | None = None, *,
                 discriminator_dims: DiscriminatorDims = DiscriminatorDims(),
                 posterior_layers: int = POSTERIOR_LAYERS):
        self.version, self.hps = version, json.loads(json.dumps(dict(hps), default=dict))
        model, train = self.hps["model"], self.hps["train"]
        if not model.get("freeze_quantizer", True) or model.get("use_spectral_norm", False):
            raise ValueError("SoVITS training supports freeze_quantizer true and use_spectral_norm false (as released)")
        self.cfg = SoVITSConfig.from_hps(self.hps, version, s2config.n_symbols(version))
        self.net_g = SynthesizerTrain(self.cfg, posterior_layers, float(model.get("p_dropout", 0.0)))
        self.seed = int(train["seed"])
        self.rng = np.random.default_rng(self.seed)
        load_into(self.net_g, with_posterior(self.net_g, g_state, self.rng), source="pretrained G")
        self.net_d = MultiPeriodDiscriminator(version, discriminator_dims)
        rename_parameters(self.net_d)
        load_into(self.net_d, d_state if d_state is not None else fresh_discriminator_weights(self.net_d, self.rng),
                  source="pretrained D")
        lr, betas, eps = float(train["learning_rate"]), tuple(train["betas"]), float(train["eps"])
        trainable = self.net_g.trainable()
        groups = [ParamGroup([p for p in trainable if not p.name.startswith(TEXT_GROUPS)], lr)]
        groups += [ParamGroup([p for p in trainable if p.name.startswith(prefix)],
                              lr * float(train["text_low_lr_rate"])) for prefix in TEXT_GROUPS]
        optim_g = AdamW(groups, betas, eps)
        optim_d = AdamW([ParamGroup(list(self.net_d.get_parameters()), lr)], betas, eps)
        d = self.hps["data"]
        mel = MelSpectrogram(d["sampling_rate"], d["filter_length"], d["n_mel_channels"], d["hop_length"],
                             d["win_length"], d["mel_fmin"], d["mel_fmax"])
        self.step_fn = S2Step(self.net_g, self.net_d, mel, optim_g, optim_d, TrainHps.from_hps(self.hps))
        self.lr_decay = float(train["lr_decay"])
        for optim in (optim_g, optim_d):  # s2_train.py: `for _ in range(epoch_str): scheduler.step()`
            optim.schedule_step(self.lr_decay)
        self.epoch, self.step = 0, 0  # epochs completed, steps taken (the reference's epoch e is our epoch + 1)
        self._source: BatchSource | None = None

    @classmethod
    def from_pretrained(cls, g_path: str | Path, d_path: str | Path | None, version: str,
                        hps: Mapping[str, Any] | None = None, *, learning_rate_scale: float = 1.0,
                        exp_name: str | None = None, **train: Any) -> "S2Trainer":
        """The released (or any training) G / D files (`{"weight": state dict, ...}`; D's widths are its
        file's, `discriminator_dims`); `hps` defaults to
        the reference's s2 config of `version` with the generator file's `model` section (its dims: the
        released files' are the config's, a smaller model's its own); `train` overrides its train keys by
        name (batch_size, epochs, learning_rate, text_low_lr_rate, seed, ...); `learning_rate_scale` multiplies the learning
        rate; `exp_name` is the config's `name` (the web UI's experiment name) in exports."""
        checkpoint = read_torch_checkpoint(g_path)
        if hps is None:  # the version's s2 config, with the model the generator file says it is
            hps = s2config.default_hps(version)
            if checkpoint.get("config") is not None and "model" in checkpoint["config"]:
                hps["model"] = {**hps["model"], **dict(checkpoint["config"]["model"])}
        hps = dict(hps)
        hps["train"] = {**hps["train"], **train}
        hps["train"]["learning_rate"] = float(hps["train"]["learning_rate"]) * learning_rate_scale
        if exp_name is not None:
            hps["name"] = exp_name
        g = {k: np.asarray(v, np.float32) for k, v in checkpoint["weight"].items()}
        if d_path is None:
            return cls(version, hps, g)
        d = {k: np.asarray(v, np.float32) for k, v in read_torch_checkpoint(d_path)["weight"].items()}
        try:
            dims = discriminator_dims(d)
        except (KeyError, IndexError) as exc:
            raise WeightLoadError(f"{d_path}: not a SoVITS discriminator's weights (no {exc})") from exc
        return cls(version, hps, g, d, discriminator_dims=dims)

    # -- the Trainer protocol ------------------------------------------------------------------------
    def batches(self, data, batch_size: int, epoch: int) -> Iterator[S2Batch]:
        if self._source is None or self._source.data is not data:
            self._source = BatchSource(data, self.hps, self.cfg.is_pro)
        return self._source.batches(batch_size, epoch)

    def draws(self, batch: S2Batch) -> Draws:
        return draw(self.rng, batch, self.cfg.inter_channels, self.step_fn.hps.segment_frames)

    def train_step(self, batch: S2Batch, draws: Draws | None = None) -> dict[str, float]:
        """One D update and one G update; "loss" is the generator's total, "disc" the discriminator's."""
        metrics = self.step_fn.run(batch, draws if draws is not None else self.draws(batch))
        self.step += 1
        return metrics

    def end_epoch(self) -> None:
        self.step_fn.optim_g.schedule_step(self.lr_decay)
        self.step_fn.optim_d.schedule_step(self.lr_decay)
        self.epoch += 1

    def save_state(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {f"g.{k}": v for k, v in _state_of(self.net_g).items()}
        arrays.update({f"d.{k}": v for k, v in _state_of(self.net_d).items()})
        scalars: dict[str, Any] = {"epoch": self.epoch, "step": self.step, "version": self.version,
                                   "rng": self.rng.bit_generator.state}
        for tag, optim in (("optim_g", self.step_fn.optim_g), ("optim_d", self.step_fn.optim_d)):
            opt_arrays, scalars[tag] = optim.state()
            arrays.update({f"{tag}.{k}": v for k, v in opt_arrays.items()})
        np.savez(folder / "s2_state.npz", **arrays)
        (folder / "s2_state.json").write_text(json.dumps(scalars))

    def load_state(self, folder: Path) -> None:
        folder = Path(folder)
        scalars = json.loads((folder / "s2_state.json").read_text())
        if scalars["version"] != self.version:
            raise ValueError(f"the saved state is {scalars['version']}, this trainer {self.version}")
        with np.load(folder / "s2_state.npz") as z:
            arrays = {k: z[k] for k in z.files}
        load_into(self.net_g, {k[2:]: v for k, v in arrays.items() if k.startswith("g.")}, source="saved G")
        load_into(self.net_d, {k[2:]: v for k, v in arrays.items() if k.startswith("d.")}, source="saved D")
        for tag, optim in (("optim_g", self.step_fn.optim_g), ("optim_d", self.step_fn.optim_d)):
            prefix = tag + "."
            optim.load_state({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}, scalars[tag])
        self.epoch, self.step = int(scalars["epoch"]), int(scalars["step"])
        self.rng.bit_generator.state = scalars["rng"]

    def export(self, path: Path, name: str) -> Path:
        """The web UI's SoVITS weights file (process_ckpt.savee), named as s2_train.py names it:
        `<path>/<name>_e<epoch>_s<step>.pth`."""
        file_name = f"{name}_e{self.epoch}_s{self.step}"
        return export_sovits(Path(path) / f"{file_name}.pth", _state_of(self.net_g), self.hps, self.version,
                             epoch=self.epoch, steps=self.step)
