"""Golden data for GPT (s1) training: the reference's loss, gradients, ScaledAdam steps, schedule, batching.

    REF_DIR=/work/ref /work/torch-venv/bin/python tools/training_golden/make_s1_golden.py [out_dir]

Writes `tests/golden/training/s1/` (see README.md beside this script): a tiny GPT built from the real
`configs/s1longer-v2.yaml` with reduced sizes, its initial weights, a pool of clips, and what the
reference computes on them. Everything random is seeded; dropout is off (`model.eval()`: the reference
trains with dropout 0.1, whose draws cannot be shared with MindSpore).
"""
from __future__ import annotations

import importlib.machinery
import json
import os
import random
import sys
import types
from pathlib import Path

import numpy as np
import torch

REF = Path(os.environ.get("REF_DIR", "/work/ref")) / "GPT_SoVITS"
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "tests/golden/training/s1"
SEED = 1234
TINY = {"embedding_dim": 16, "hidden_dim": 16, "head": 2, "n_layer": 2, "linear_units": 64}
N_CLIPS, BATCH_SIZE = 6, 3
# The end-to-end run: (epoch, batch index) pairs. The reference steps the optimiser at batch_idx 4, 8...
# of each epoch (never at 0), so epoch 0 steps once and carries batch 5's gradient into epoch 1.
RUN = [(0, i) for i in range(6)] + [(1, i) for i in range(5)]
# The optimiser-only runs: ScaledAdam's size updates at steps 3 and 7; in the variant clipping starts at step 4
# (step 4's large norm is clipped), which shows only in the size statistics, hence in step 7's size update.
OPT_STEPS = 8
GRAD_SCALES = [1.0, 0.5, 2.0, 1.0, 8.0, 0.3, 1.0, 4.0]
CLIP_VARIANT = {"clipping_scale": 0.5, "clipping_update_period": 4}


def _stub(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)  # torch's import checks look for one
    sys.modules[name] = module
    return module


def _stub_modules() -> None:
    """The code under test needs none of these; importing the reference's modules pulls them in."""
    _stub("pytorch_lightning").LightningModule = torch.nn.Module
    metrics, classification = _stub("torchmetrics"), _stub("torchmetrics.classification")

    class MulticlassAccuracy(torch.nn.Module):  # accuracy is computed below, as torchmetrics would
        def __init__(self, *args, **kwargs):
            super().__init__()

        def forward(self, logits, targets):
            return torch.tensor(0.0)

    classification.MulticlassAccuracy = MulticlassAccuracy
    metrics.classification = classification
    _stub("matplotlib").pyplot = _stub("matplotlib.pyplot")
    _stub("pandas")
    _stub("text").cleaned_text_to_sequence = lambda phones, version=None: phones
    sys.path.insert(0, str(REF))


_stub_modules()
from AR.data.bucket_sampler import DistributedBucketSampler  # noqa: E402
from AR.data.dataset import Text2SemanticDataset  # noqa: E402
from AR.models.t2s_lightning_module import Text2SemanticLightningModule  # noqa: E402
from AR.modules.lr_schedulers import WarmupCosineLRSchedule  # noqa: E402
from AR.modules.optim import ScaledAdam  # noqa: E402
from AR.utils.io import load_yaml_config  # noqa: E402


def tiny_config() -> dict:
    config = load_yaml_config(str(REF / "configs/s1longer-v2.yaml"))
    config["model"].update(TINY)
    return config


def make_clips(rng: np.random.Generator, phoneme_vocab: int) -> list[dict]:
    clips = []
    for i in range(N_CLIPS):
        n_phones = int(rng.integers(6, 14))
        n_codes = int(rng.integers(12, 40))
        clips.append({
            "phones": rng.integers(1, phoneme_vocab, n_phones).astype(np.int64),
            "codes": rng.integers(0, 1024, n_codes).astype(np.int64),
            # float16 values, so the file stays small; both sides read them as float32
            "bert": (rng.standard_normal((1024, n_phones)) * 0.5).astype(np.float16) if i % 3 else
                    np.zeros((1024, n_phones), np.float16),  # non-Chinese clips have zero BERT features
        })
    return clips


def collate(clips: list[dict], members: list[int], pad_val: int) -> dict:
    """The reference's `Text2SemanticDataset.collate` on the clips `members`."""
    fake = types.SimpleNamespace(PAD=pad_val)
    examples = [{
        "idx": i, "phoneme_ids": list(clips[i]["phones"]), "phoneme_ids_len": len(clips[i]["phones"]),
        "semantic_ids": list(clips[i]["codes"]), "semantic_ids_len": len(clips[i]["codes"]),
        "bert_feature": torch.from_numpy(clips[i]["bert"].astype(np.float32)) if clips[i]["bert"].any() else None,
    } for i in members]
    return Text2SemanticDataset.collate(fake, examples)


def batch_members() -> list[list[int]]:
    return [[0, 1, 2], [3, 4, 5], [5, 0, 3]]


def lightning(config: dict, state: dict, dtype=torch.float32) -> Text2SemanticLightningModule:
    module = Text2SemanticLightningModule(config, Path("/nonexistent"), is_train=False)
    module.load_state_dict(state)
    module.to(dtype)
    module.eval()  # dropout off
    return module


def top3_accuracy(logits: torch.Tensor, targets: torch.Tensor, eos: int) -> float:
    """torchmetrics' MulticlassAccuracy(top_k=3, average="micro", ignore_index=EOS) on [B, V, L] logits."""
    keep = targets != eos
    top = logits.topk(3, dim=1).indices  # [B, 3, L]
    hit = (top == targets[:, None, :]).any(dim=1)
    return float(hit[keep].float().mean())


def forward(module, batch: dict, dtype) -> tuple[torch.Tensor, float]:
    loss, _ = module.model.forward_old(batch["phoneme_ids"], batch["phoneme_ids_len"], batch["semantic_ids"],
                                       batch["semantic_ids_len"], batch["bert_feature"].to(dtype))
    return loss


def accuracy(module, batch: dict) -> float:
    model = module.model
    captured = {}
    hook = model.ar_predict_layer.register_forward_hook(lambda m, i, o: captured.setdefault("logits", o))
    with torch.no_grad():
        forward(module, batch, torch.float32)
    hook.remove()
    y_mask = torch.arange(batch["semantic_ids"].shape[1])[None] >= batch["semantic_ids_len"][:, None]
    codes = batch["semantic_ids"] * (~y_mask)
    _, targets = model.pad_y_eos(codes, y_mask.long(), eos_id=model.EOS)
    return top3_accuracy(captured["logits"].permute(0, 2, 1), targets, model.EOS)


def grads_of(module) -> dict[str, np.ndarray]:
    return {name: p.grad.detach().double().numpy().copy() for name, p in module.named_parameters()}


def params_of(module) -> dict[str, np.ndarray]:
    return {name: p.detach().double().numpy().copy() for name, p in module.named_parameters()}


def one_batch(config, state, batch) -> dict:
    """Loss, accuracy and gradients of one batch from the initial weights, in float32 and float64."""
    out = {}
    for dtype, tag in ((torch.float32, "f32"), (torch.float64, "f64")):
        module = lightning(config, state, dtype)
        loss = forward(module, batch, dtype)
        loss.backward()
        out[tag] = (float(loss), grads_of(module))
    out["acc"] = accuracy(lightning(config, state), batch)
    return out


def training_run(config, state, batches, dtype) -> dict:
    """The reference's own `training_step` (manual optimisation, its ScaledAdam and schedule) over RUN."""
    module = lightning(config, state, dtype)
    setup = module.configure_optimizers()
    opt, scheduler = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    module.optimizers = lambda: opt
    module.lr_schedulers = lambda: scheduler
    module.manual_backward = lambda loss: loss.backward()
    module.log = lambda *args, **kwargs: None
    losses, lrs, snapshots = [], [], []
    original_forward = module.model.forward_old

    def recording_forward(*args):
        loss, acc = original_forward(*args[:4], args[4].to(dtype))
        losses.append(float(loss))
        return loss, acc

    module.model.forward_old = recording_forward
    for (epoch, batch_idx), b in zip(RUN, [batches[i % len(batches)] for i in range(len(RUN))]):
        lr_before = opt.param_groups[0]["lr"]
        module.training_step(b, batch_idx)
        if batch_idx > 0 and batch_idx % 4 == 0:
            lrs.append(lr_before)
            snapshots.append(params_of(module))
    return {"losses": losses, "lrs": lrs, "params": snapshots}


def synthetic_grads(state: dict, step: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED + 100 + step)
    return {name: (rng.standard_normal(value.shape) * GRAD_SCALES[step]).astype(np.float32)
            for name, value in state.items()}


def optimiser_run(config, state, variant: dict | None) -> dict:
    """ScaledAdam (as `configure_optimizers` builds it, or with `variant`'s arguments) and the schedule,
    stepped OPT_STEPS times on synthetic gradients."""
    module = lightning(config, state)
    if variant is None:
        setup = module.configure_optimizers()
        opt, scheduler = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    else:
        names = [[name for name, _ in module.model.named_parameters()]]
        opt = ScaledAdam(module.model.parameters(), lr=0.01, betas=(0.9, 0.95), parameters_names=names,
                         show_dominant_parameters=False, **variant)
        o = config["optimizer"]
        scheduler = WarmupCosineLRSchedule(opt, init_lr=o["lr_init"], peak_lr=o["lr"], end_lr=o["lr_end"],
                                           warmup_steps=o["warmup_steps"], total_steps=o["decay_steps"])
    lrs, snapshots, thresholds = [], [], []
    for step in range(OPT_STEPS):
        grads = synthetic_grads({k.removeprefix("model."): v for k, v in state.items()}, step)
        for name, p in module.model.named_parameters():
            p.grad = torch.from_numpy(grads[name])
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        opt.zero_grad()
        scheduler.step()
        snapshots.append(params_of(module.model))
        first = next(s for s in opt.state.values() if "model_norms" in s) if step else {}
        thresholds.append(float(first.get("model_norm_threshold", 0.0)))
    return {"lrs": lrs, "params": snapshots, "thresholds": thresholds}


def sampler_orders(lengths_codes: list[int], batch_size: int, epochs: int) -> list[list[int]]:
    fake = type("D", (), {"__len__": lambda self: len(lengths_codes),
                          "get_sample_length": lambda self, i: lengths_codes[i] / 25.0})()
    sampler = DistributedBucketSampler(fake, num_replicas=1, rank=0, batch_size=batch_size)
    orders = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        orders.append(list(iter(sampler)))
    return orders


def noise(a: dict, b: dict) -> float:
    """max over tensors of max|a - b| / max|b|: the float32-vs-float64 noise of the reference."""
    return max(float(np.abs(a[k] - b[k]).max() / max(np.abs(b[k]).max(), 1e-30)) for k in b)


def main() -> None:
    torch.manual_seed(SEED)
    random.seed(SEED)
    config = tiny_config()
    module = Text2SemanticLightningModule(config, Path("/nonexistent"), is_train=False)
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    rng = np.random.default_rng(SEED)
    clips = make_clips(rng, config["model"]["phoneme_vocab_size"])
    pad = config["data"]["pad_val"]
    batches = [collate(clips, members, pad) for members in batch_members()]

    first = one_batch(config, state, batches[0])
    run32 = training_run(config, state, batches, torch.float32)
    run64 = training_run(config, state, batches, torch.float64)
    plain = optimiser_run(config, state, None)
    clipped = optimiser_run(config, state, CLIP_VARIANT)

    OUT.mkdir(parents=True, exist_ok=True)
    f32 = lambda d, prefix="": {prefix + k.removeprefix("model."): v.astype(np.float32) for k, v in d.items()}
    np.savez_compressed(OUT / "init.npz", **{k.removeprefix("model."): v.numpy() for k, v in state.items()})
    clip_arrays = {}
    for i, c in enumerate(clips):
        clip_arrays.update({f"{i}/phones": c["phones"], f"{i}/codes": c["codes"], f"{i}/bert": c["bert"]})
    np.savez_compressed(OUT / "clips.npz", **clip_arrays)
    batch_arrays = {}
    for i, b in enumerate(batches):
        for key in ("phoneme_ids", "phoneme_ids_len", "semantic_ids", "semantic_ids_len"):
            batch_arrays[f"{i}/{key}"] = b[key].numpy()
    np.savez_compressed(OUT / "batches.npz", **batch_arrays)
    np.savez_compressed(OUT / "grads_batch0.npz", **f32(first["f32"][1]))
    np.savez_compressed(OUT / "run_params.npz", **{f"{s}/{k}": v for s, snap in enumerate(run32["params"])
                                                  for k, v in f32(snap).items()})
    kept_steps = {"plain": [0, 1, OPT_STEPS - 1], "clipped": [OPT_STEPS - 1]}
    np.savez_compressed(OUT / "optimiser_params.npz", **{
        f"{tag}/{s}/{k}": v for tag, run in (("plain", plain), ("clipped", clipped))
        for s in kept_steps[tag] for k, v in f32(run["params"][s]).items()})
    lengths = [int(rng.integers(20, 400)) for _ in range(23)]
    meta = {
        "reference": "RVC-Boss/GPT-SoVITS @ 48b1a01 (REF_DIR)", "torch": torch.__version__, "seed": SEED,
        "config": config, "tiny": TINY, "param_names": [k.removeprefix("model.") for k in state], "n_clips": N_CLIPS, "batch_members": batch_members(),
        "batch0": {"loss": first["f32"][0], "loss_f64": first["f64"][0], "top_3_acc": first["acc"],
                   "grad_noise_f32_vs_f64": noise(first["f32"][1], first["f64"][1])},
        "run": {"steps": RUN, "losses": run32["losses"], "losses_f64": run64["losses"], "lrs": run32["lrs"],
                "param_noise_f32_vs_f64": [float(max(np.abs(a[k] - b[k]).max() for k in b))
                                           for a, b in zip(run32["params"], run64["params"])]},
        "optimiser": {"steps": OPT_STEPS, "grad_seed": SEED + 100, "grad_scales": GRAD_SCALES,
                      "kept_steps": kept_steps, "clip_variant": CLIP_VARIANT,
                      "plain": {"lrs": plain["lrs"], "thresholds": plain["thresholds"]},
                      "clipped": {"lrs": clipped["lrs"], "thresholds": clipped["thresholds"]}},
        "sampler": {"lengths_codes": lengths, "batch_size": 4, "orders": sampler_orders(lengths, 4, 3)},
    }
    (OUT / "meta.json").write_text(json.dumps(meta, indent=1))
    print(json.dumps({k: meta[k] for k in ("batch0",)}, indent=1), meta["run"]["param_noise_f32_vs_f64"],
          meta["optimiser"]["clipped"]["thresholds"])


if __name__ == "__main__":
    main()
