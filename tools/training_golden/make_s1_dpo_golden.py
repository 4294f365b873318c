"""Golden data for GPT (s1) training with DPO (`train.if_dpo`): the reference's `Text2SemanticDecoder.forward`.

    REF_DIR=/work/ref /work/torch-venv/bin/python tools/training_golden/make_s1_dpo_golden.py [out_dir]

Run `make_s1_golden.py` first: this reuses its tiny GPT (`init.npz`), clips and collated batch 0 (its stubs
and helpers are imported from it), seeds torch, lets the reference's `make_reject_y` draw the rejected codes
and records them with the draws it made, then runs the reference's `forward` (the chosen and the rejected
pass) in float32 and float64 with those rejected codes, and one ScaledAdam step on its gradient. Writes
`dpo.json`, `dpo_reject.npz` (the rejected codes of DPO_SEED and EXTRA_SEEDS, `<seed>/...`), `dpo_grads.npz`
and `dpo_params.npz` beside the s1 golden. Dropout is off (`eval()`), as in the s1 golden.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_s1_golden as s1  # noqa: E402  (stubs the reference's heavy imports, puts REF on sys.path)
from AR.models import t2s_model  # noqa: E402
from AR.models.utils import dpo_loss, get_batch_logps, make_reject_y  # noqa: E402

# Seeded so that the rejected batch is as long as the chosen one (39 codes): both log-probability sums then
# run over as many positions and loss_2 is well inside the sigmoid, so its gradient counts (with most seeds
# the rejected batch is longer, the sums include its padding, and loss_2 is ~1e-13: nothing to check).
DPO_SEED = 4355
EXTRA_SEEDS = (4321,)  # `make_reject_y` only (its draws and output): this one repeats a span
BATCH = 0  # which of the s1 golden's batches
BETA = 0.2  # t2s_model.forward: dpo_loss(A, R, 0, 0, 0.2, reference_free=True)


def reference_reject(y: torch.Tensor, y_lens: torch.Tensor, seed: int = DPO_SEED) -> tuple[torch.Tensor, ...]:
    """`make_reject_y` after seeding, and the draws it made (replayed from the same seed in its order:
    per utterance, the kind (0 repeat, 1 lost), then the two sorted cut points in [0, padded length))."""
    torch.manual_seed(seed)
    reject, reject_lens = make_reject_y(y, y_lens)
    torch.manual_seed(seed)
    draws = []
    for b in range(len(y_lens)):
        kind = int(torch.randint(0, 2, size=(1,))[0])
        cuts, _ = torch.randint(0, len(y[b]), size=(2,)).sort()
        draws.append([kind, int(cuts[0]), int(cuts[1])])
    return reject, reject_lens, draws


def dpo_terms(model, batch: dict, reject, reject_lens, dtype) -> dict:
    """loss_1 (summed cross-entropy of the chosen pass), the per-utterance log-probabilities and loss_2,
    recomputed with the reference's own functions as `forward` chains them."""
    x, x_lens, bert = batch["phoneme_ids"], batch["phoneme_ids_len"], batch["bert_feature"].to(dtype)
    out = []
    for y, y_lens in ((batch["semantic_ids"], batch["semantic_ids_len"]), (reject, reject_lens)):
        xy_pos, mask, targets = model.make_input_data(x, x_lens, y, y_lens, bert)
        dec, _ = model.h((xy_pos, None), mask=mask)
        out.append((model.ar_predict_layer(dec[:, x_lens.max() - 1:]), targets))
    (logits, targets), (r_logits, r_targets) = out
    loss_1 = torch.nn.functional.cross_entropy(logits.permute(0, 2, 1), targets, reduction="sum")
    chosen, rejected = get_batch_logps(logits, r_logits, targets, r_targets)
    loss_2, _, _ = dpo_loss(chosen, rejected, 0, 0, BETA, reference_free=True)
    return {"loss_1": float(loss_1), "loss_2": float(loss_2), "chosen_logps": chosen.tolist(),
            "rejected_logps": rejected.tolist()}


def run(config, state, batch, reject, reject_lens, dtype) -> dict:
    module = s1.lightning(config, state, dtype)
    model = module.model
    original = t2s_model.make_reject_y
    t2s_model.make_reject_y = lambda y, y_lens: (reject, reject_lens)  # the recorded draw, in both dtypes
    try:
        loss, _ = model.forward(batch["phoneme_ids"], batch["phoneme_ids_len"], batch["semantic_ids"],
                                batch["semantic_ids_len"], batch["bert_feature"].to(dtype))
    finally:
        t2s_model.make_reject_y = original
    loss.backward()
    grads = s1.grads_of(module)
    with torch.no_grad():  # before the step: the same weights as `forward` saw
        terms = dpo_terms(model, batch, reject, reject_lens, dtype)
    module.configure_optimizers()["optimizer"].step()
    return {"loss": float(loss.detach()), **terms, "grads": grads, "params": s1.params_of(module)}


def main() -> None:
    torch.manual_seed(s1.SEED)
    config = s1.tiny_config()
    config["train"]["if_dpo"] = True
    out = s1.OUT
    with np.load(out / "init.npz") as init:
        state = {"model." + k: torch.from_numpy(init[k]) for k in init.files}
    with np.load(out / "clips.npz") as data:
        clips = [{"phones": data[f"{i}/phones"], "codes": data[f"{i}/codes"], "bert": data[f"{i}/bert"]}
                 for i in range(s1.N_CLIPS)]
    batch = s1.collate(clips, s1.batch_members()[BATCH], config["data"]["pad_val"])
    reject, reject_lens, draws = reference_reject(batch["semantic_ids"], batch["semantic_ids_len"])
    r32 = run(config, state, batch, reject, reject_lens, torch.float32)
    r64 = run(config, state, batch, reject, reject_lens, torch.float64)

    f32 = lambda d: {k.removeprefix("model."): v.astype(np.float32) for k, v in d.items()}
    rejects = {}
    for seed in (DPO_SEED, *EXTRA_SEEDS):
        r, r_lens, d = reference_reject(batch["semantic_ids"], batch["semantic_ids_len"], seed)
        rejects.update({f"{seed}/reject_y": r.numpy(), f"{seed}/reject_y_lens": r_lens.numpy(),
                        f"{seed}/draws": np.array(d, np.int64)})
    np.savez_compressed(out / "dpo_reject.npz", **rejects)
    np.savez_compressed(out / "dpo_grads.npz", **f32(r32["grads"]))
    np.savez_compressed(out / "dpo_params.npz", **f32(r32["params"]))
    scalars = ("loss", "loss_1", "loss_2", "chosen_logps", "rejected_logps")
    meta = {
        "reference": "RVC-Boss/GPT-SoVITS @ 48b1a01 (REF_DIR)", "torch": torch.__version__,
        "seed": DPO_SEED, "extra_seeds": list(EXTRA_SEEDS), "batch": BATCH, "beta": BETA, "if_dpo": True,
        "f32": {k: r32[k] for k in scalars}, "f64": {k: r64[k] for k in scalars},
        "grad_noise_f32_vs_f64": s1.noise(r32["grads"], r64["grads"]),
        "param_noise_f32_vs_f64": float(max(np.abs(r32["params"][k] - r64["params"][k]).max() for k in r64["params"])),
    }
    (out / "dpo.json").write_text(json.dumps(meta, indent=1))
    print(json.dumps(meta, indent=1), draws, reject_lens.tolist(), batch["semantic_ids_len"].tolist())


if __name__ == "__main__":
    main()
