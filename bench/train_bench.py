"""Benchmark of fine-tuning steps at full size (the lead wires it into `bench.run --only train`).

    python -m bench.train_bench [--steps 3] [--batch 4] [--phones 60] [--codes 140]

GPT (s1): the s1longer-v2 model (24 layers, 512 wide) with fresh weights, a batch of `--batch` utterances
of `--phones` phonemes + `--codes` semantic codes (~200 positions each), dropout on as in training. One
figure per line, `name: value unit`; nothing asserted. `train.s1.seconds_per_step` is one batch's forward
and backward plus, averaged in, a quarter of a ScaledAdam step (the reference steps every 4th batch).
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def report(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:.4g} {unit}", flush=True)


def s1_batch(rng: np.random.Generator, batch: int, phones: int, codes: int):
    from GPT_SoVITS.models.gpt.training import TrainingBatch

    return TrainingBatch(rng.integers(1, 732, (batch, phones)), np.full(batch, phones, np.int64),
                         rng.integers(0, 1024, (batch, codes)), np.full(batch, codes, np.int64),
                         rng.standard_normal((batch, 1024, phones)).astype(np.float32))


def bench_s1(steps: int, batch: int, phones: int, codes: int) -> None:
    from GPT_SoVITS.training.s1 import S1Trainer

    start = time.perf_counter()
    trainer = S1Trainer.from_pretrained(None)
    report("train.s1.build", time.perf_counter() - start, "s")
    rng = np.random.default_rng(0)
    data = s1_batch(rng, batch, phones, codes)
    start = time.perf_counter()
    trainer.train_step(data)  # first call: builds the gradient graph
    report("train.s1.first_step", time.perf_counter() - start, "s")
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        trainer.train_step(data)
        times.append(time.perf_counter() - start)
    forward_backward = min(times)
    start = time.perf_counter()
    trainer.optimizer.step(trainer.master, trainer.grads)
    trainer._push_weights()
    optimiser = time.perf_counter() - start
    report("train.s1.forward_backward", forward_backward, "s")
    report("train.s1.optimizer_step", optimiser, "s")
    report("train.s1.seconds_per_step", forward_backward + optimiser / 4, "s")
    report("train.s1.positions_per_second", batch * (phones + codes) / (forward_backward + optimiser / 4), "/s")
    report("train.s1.peak_rss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--phones", type=int, default=60)
    parser.add_argument("--codes", type=int, default=140)
    args = parser.parse_args()
    bench_s1(args.steps, args.batch, args.phones, args.codes)


if __name__ == "__main__":
    main()
