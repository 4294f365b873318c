"""GPT (s1) DPO training (`train.if_dpo`) against the reference's `Text2SemanticDecoder.forward`
(`tests/golden/training/s1/dpo*`, made by tools/training_golden/make_s1_dpo_golden.py): the rejected codes
built from the reference's draws, the loss and its two terms, the gradients and one ScaledAdam step on the
golden's batch 0 with the reference's rejected codes; then a DPO run through the trainer and its resume.
Tolerances from the issue: losses relative <= 1e-5, gradients within a small multiple of the reference's
float32-vs-float64 noise, weights <= 1e-6."""
from __future__ import annotations

import copy
import json
from functools import lru_cache

import mindspore as ms
import numpy as np

from s1_golden import arrays, meta, s1_file, tiny_model, training_batches
from GPT_SoVITS.models.gpt.dpo import DpoLoss, draw_reject, make_reject_y, reject_codes
from GPT_SoVITS.training.s1 import S1Trainer, ScaledAdam, ScaledAdamConfig

LOSS_RTOL = 1e-5
PARAM_ATOL = 1e-6
NOISE_MULTIPLE = 10  # gradients: within this many times the reference's own float32 noise


@lru_cache(maxsize=None)
def dpo_meta() -> dict:
    return json.loads(s1_file("dpo.json").read_text())


def _reference_reject(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = arrays("dpo_reject.npz")
    return data[f"{seed}/reject_y"], data[f"{seed}/reject_y_lens"], data[f"{seed}/draws"]


def _dpo_config() -> dict:
    config = copy.deepcopy(meta()["config"])
    config["train"]["if_dpo"] = True
    return config


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def test_rejected_codes_from_the_reference_draws():
    """Every seed's draws (a span repeated, a span dropped, an empty span) give the reference's rejected
    batch: the padded rows cut, their EOS padding kept as codes, the batch right-padded with 0."""
    batch = training_batches()[dpo_meta()["batch"]]
    for seed in (dpo_meta()["seed"], *dpo_meta()["extra_seeds"]):
        reject, lens, draws = _reference_reject(seed)
        ours, our_lens = reject_codes(batch.semantic_ids, draws)
        np.testing.assert_array_equal(our_lens, lens, err_msg=f"seed {seed}")
        np.testing.assert_array_equal(ours, reject, err_msg=f"seed {seed}")


def test_draws_are_seeded_and_in_make_reject_y_ranges():
    semantic_ids = training_batches()[0].semantic_ids
    batch, padded = semantic_ids.shape
    draws = np.concatenate([draw_reject(np.random.default_rng(seed), batch, padded) for seed in range(20)])
    assert set(draws[:, 0]) == {0, 1}
    assert (draws[:, 1] <= draws[:, 2]).all() and draws[:, 1].min() >= 0 and draws[:, 2].max() < padded
    first, again = (make_reject_y(semantic_ids, np.random.default_rng(5)) for _ in range(2))
    np.testing.assert_array_equal(first[0], again[0])


def test_loss_terms_gradients_and_one_step_match_the_reference():
    golden = dpo_meta()
    model = tiny_model()
    loss_fn = DpoLoss(model, dropout=0.0, beta=golden["beta"])
    params = [p for _, p in model.parameters_and_names()]
    reject, lens, _ = _reference_reject(golden["seed"])
    tensors, _ = loss_fn.inputs(training_batches()[golden["batch"]], (reject, lens))
    (loss, loss_1, loss_2, _), grads = ms.value_and_grad(loss_fn, None, params, has_aux=True)(*tensors)
    for name, ours in (("loss", loss), ("loss_1", loss_1), ("loss_2", loss_2)):
        ref = golden["f32"][name]
        assert _rel(float(ours.asnumpy()), ref) <= LOSS_RTOL, f"{name}: {float(ours.asnumpy())} vs {ref}"

    expected = arrays("dpo_grads.npz")
    bound = NOISE_MULTIPLE * golden["grad_noise_f32_vs_f64"]
    ours = {param.name: np.asarray(grad.asnumpy(), np.float32) for param, grad in zip(params, grads)}
    for name, ref in expected.items():
        worst = np.abs(ours[name] - ref).max() / max(np.abs(ref).max(), 1e-30)
        assert worst <= bound, f"{name}: gradient off by {worst:.2e} of its largest (bound {bound:.2e})"

    weights = {name: value.astype(np.float32) for name, value in arrays("init.npz").items()}
    ScaledAdam(weights, ScaledAdamConfig()).step(weights, ours)
    for name, value in arrays("dpo_params.npz").items():
        np.testing.assert_allclose(weights[name], value, rtol=0, atol=PARAM_ATOL, err_msg=f"after one step: {name}")


def test_dpo_training_runs_and_resumes_exactly(tmp_path):
    """Through `from_pretrained(if_dpo=True)` and `train_step`: the loss is its two terms, and a trainer
    stopped with a gradient pending and reloaded draws the same rejected codes and dropout, bit for bit."""
    batches = training_batches()
    config = _dpo_config()
    first = S1Trainer.from_pretrained(None, config, if_dpo=True, dropout=0.1, seed=7)
    assert first.if_dpo and first.config["train"]["if_dpo"] is True
    state = {name: value.copy() for name, value in arrays("init.npz").items()}
    first.master.update(state)
    first._push_weights()
    for batch in batches + batches[:3]:  # 6 batches: one optimiser step, one gradient pending
        metrics = first.train_step(batch)
        assert _rel(metrics["loss"], metrics["loss_ce"] + metrics["loss_dpo"]) <= LOSS_RTOL
        assert metrics["loss_dpo"] >= 0.0  # ~0 when the rejected batch is longer (more positions summed)
    first.save_state(tmp_path / "state")
    resumed = S1Trainer(tiny_model(), config, dropout=0.1, seed=99)
    resumed.load_state(tmp_path / "state")
    runs = []
    for trainer in (first, resumed):
        trainer.end_epoch()
        runs.append([trainer.train_step(batch) for batch in batches + batches[:2]])  # steps at batch_idx 4
    assert runs[0] == runs[1]
    assert (resumed.epoch, resumed.step, resumed.optimizer_steps) == (first.epoch, first.step, first.optimizer_steps)
    for name, value in first.weights().items():
        np.testing.assert_array_equal(resumed.weights()[name], value, err_msg=name)
