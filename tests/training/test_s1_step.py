"""GPT (s1) training step for step against the reference (`tests/golden/training/s1`, see its generator):
one batch's loss and gradients, ScaledAdam + the schedule over 8 steps (its size updates and, in a
variant, its clipping), and the reference's own training loop (gradients summed over batches, steps at
batch 4 of each epoch, the tail carried over an epoch boundary). Tolerances from the issue: loss relative
<= 1e-5, gradients within a small multiple of the reference's float32-vs-float64 noise, weights <= 1e-6."""
from __future__ import annotations

import mindspore as ms
import numpy as np
import pytest

from s1_golden import arrays, meta, synthetic_grads, tiny_model, training_batches
from GPT_SoVITS.models.gpt.training import TeacherForcedLoss, top_k_accuracy
from GPT_SoVITS.training.s1 import S1Trainer, ScaledAdam, ScaledAdamConfig, WarmupCosineLRSchedule

LOSS_RTOL = 1e-5
PARAM_ATOL = 1e-6
NOISE_MULTIPLE = 10  # gradients: within this many times the reference's own float32 noise


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def test_one_batch_loss_gradients_and_accuracy():
    model = tiny_model()
    loss_fn = TeacherForcedLoss(model, dropout=0.0)
    params = [p for _, p in model.parameters_and_names()]
    tensors, targets = loss_fn.inputs(training_batches()[0])
    (loss, logits), grads = ms.value_and_grad(loss_fn, None, params, has_aux=True)(*tensors)
    golden = meta()["batch0"]
    assert _rel(float(loss.asnumpy()), golden["loss"]) <= LOSS_RTOL
    assert top_k_accuracy(logits.asnumpy(), targets, model.cfg.eos) == pytest.approx(golden["top_3_acc"])
    expected = arrays("grads_batch0.npz")
    bound = NOISE_MULTIPLE * golden["grad_noise_f32_vs_f64"]
    for param, grad in zip(params, grads):
        ref = expected[param.name]
        worst = np.abs(grad.asnumpy() - ref).max() / max(np.abs(ref).max(), 1e-30)
        assert worst <= bound, f"{param.name}: gradient off by {worst:.2e} of its largest (bound {bound:.2e})"


@pytest.mark.parametrize("variant", ["plain", "clipped"])
def test_scaled_adam_and_schedule_match_the_reference(variant):
    opt_meta = meta()["optimiser"]
    config = ScaledAdamConfig(**opt_meta["clip_variant"]) if variant == "clipped" else ScaledAdamConfig()
    params = {name: value.astype(np.float32) for name, value in arrays("init.npz").items()}
    optimiser = ScaledAdam(params, config)
    schedule = WarmupCosineLRSchedule.from_config(meta()["config"])
    expected = arrays("optimiser_params.npz")
    for step in range(opt_meta["steps"]):
        assert optimiser.lr == pytest.approx(opt_meta[variant]["lrs"][step], rel=1e-12)
        optimiser.step(params, synthetic_grads(step))
        optimiser.lr = schedule.step()
        assert (optimiser.clipping.model_norm_threshold or 0.0) == pytest.approx(
            opt_meta[variant]["thresholds"][step], rel=1e-5)
        if step in opt_meta["kept_steps"][variant]:
            for name, value in params.items():
                np.testing.assert_allclose(value, expected[f"{variant}/{step}/{name}"], rtol=0, atol=PARAM_ATOL,
                                           err_msg=f"{variant} step {step}: {name}")


def _run_reference_loop(trainer: S1Trainer, on_step=None) -> list[float]:
    batches, losses, epoch = training_batches(), [], 0
    steps_done = 0
    for k, (run_epoch, batch_idx) in enumerate(meta()["run"]["steps"]):
        if run_epoch != epoch:
            trainer.end_epoch()
            epoch = run_epoch
        assert trainer.batch_idx == batch_idx
        losses.append(trainer.train_step(batches[k % len(batches)])["loss"])
        if trainer.optimizer_steps > steps_done:
            steps_done = trainer.optimizer_steps
            if on_step:
                on_step(steps_done - 1)
    return losses


def test_training_loop_matches_the_reference_step_for_step():
    run = meta()["run"]
    trainer = S1Trainer(tiny_model(), meta()["config"], dropout=0.0)
    expected = arrays("run_params.npz")
    lrs = []

    def check(step: int) -> None:
        for name, value in trainer.weights().items():
            np.testing.assert_allclose(value, expected[f"{step}/{name}"], rtol=0, atol=PARAM_ATOL,
                                       err_msg=f"after optimiser step {step + 1}: {name}")

    original = trainer.optimizer.step

    def recording_step(params, grads):
        lrs.append(trainer.optimizer.lr)
        return original(params, grads)

    trainer.optimizer.step = recording_step
    losses = _run_reference_loop(trainer, check)
    assert trainer.optimizer_steps == len(run["lrs"])
    assert lrs == pytest.approx(run["lrs"], rel=1e-12)
    for k, (ours, ref) in enumerate(zip(losses, run["losses"], strict=True)):
        assert _rel(ours, ref) <= LOSS_RTOL, f"batch {k}: loss {ours} vs the reference's {ref}"


def test_resume_continues_exactly(tmp_path):
    """Stopped with a summed gradient pending and dropout on, a reloaded trainer goes on bit for bit."""
    batches = training_batches()
    config = meta()["config"]
    first = S1Trainer(tiny_model(), config, dropout=0.1, seed=7)
    for batch in batches + batches[:3]:  # 6 batches: one optimiser step, one gradient pending
        first.train_step(batch)
    first.save_state(tmp_path / "state")
    resumed = S1Trainer(tiny_model(), config, dropout=0.1, seed=99)
    resumed.load_state(tmp_path / "state")
    for trainer in (first, resumed):
        trainer.end_epoch()
        for batch in batches + batches[:2]:
            trainer.train_step(batch)
    assert (resumed.epoch, resumed.step, resumed.optimizer_steps) == (first.epoch, first.step, first.optimizer_steps)
    for name, value in first.weights().items():
        np.testing.assert_array_equal(resumed.weights()[name], value, err_msg=name)


def test_top_3_accuracy_ignores_eos_targets():
    eos = 4
    logits = np.array([[[0.0, 1.0, 2.0, 3.0, 9.0],    # target 1: 4th largest -> miss
                        [5.0, 4.0, 3.0, 2.0, 1.0],    # target 2: 3rd largest -> hit
                        [0.0, 0.0, 0.0, 0.0, 9.0]]])  # target EOS: not counted
    assert top_k_accuracy(logits, np.array([[1, 2, eos]]), eos) == 0.5
