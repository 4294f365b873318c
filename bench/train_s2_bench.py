"""SoVITS (s2) training speed at full size: the released v2 dimensions (configs/s2.json), random weights, a
batch of 4 clips of 4 s each (segments of segment_size = 20480 samples), full-width discriminator.

    python -m bench.train_s2_bench [--steps 2] [--version v2] [--seconds 4]

Prints `train.s2.seconds_per_step: <s> s` (the mean over the timed steps, after one untimed warm-up step).
Nothing is asserted: this is for reading and comparing.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from GPT_SoVITS.models.sovits.training import SynthesizerTrain
from GPT_SoVITS.training.s2 import S2Trainer
from GPT_SoVITS.training.s2.config import default_hps, n_symbols
from GPT_SoVITS.training.s2.data import ClipItem, collate
from GPT_SoVITS.models.sovits.config import SoVITSConfig
from GPT_SoVITS.audio.spectrogram import linear_spectrogram


def random_generator_state(version: str, hps: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Fan-in scaled uniform weights for every parameter of the training generator (g = ||v|| x U(0.7, 1.3))."""
    net = SynthesizerTrain(SoVITSConfig.from_hps(hps, version, n_symbols(version)))
    state = {}
    for name, p in net.parameters_and_names():
        shape = tuple(p.shape)
        bound = 1.0 / np.sqrt(np.prod(shape[1:])) if len(shape) > 1 else 0.1
        state[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    for name in [n for n in state if n.endswith(".weight_g")]:
        v = state[name[:-2] + "_v"].astype(np.float64)
        norm = np.sqrt((v ** 2).reshape(v.shape[0], -1).sum(1)).reshape(state[name].shape)
        state[name] = (norm * rng.uniform(0.7, 1.3, norm.shape)).astype(np.float32)
    return state


def batch(hps: dict, pro: bool, seconds: float, rng: np.random.Generator, size: int = 4):
    d = hps["data"]
    frames = int(seconds * d["sampling_rate"]) // d["hop_length"]
    items = []
    for _ in range(size):
        t = np.arange(frames * d["hop_length"]) / d["sampling_rate"]
        wav = (0.3 * np.sin(2 * np.pi * rng.uniform(100, 400) * t)).astype(np.float32)
        spec = linear_spectrogram(wav, d["filter_length"], d["hop_length"], d["win_length"])
        items.append(ClipItem(rng.standard_normal((768, spec.shape[-1])).astype(np.float32), spec, wav,
                              rng.integers(1, 700, 40), rng.standard_normal(20480).astype(np.float32) if pro else None))
    return collate(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--version", default="v2")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    hps = default_hps(args.version, batch_size=4)
    trainer = S2Trainer(args.version, hps, random_generator_state(args.version, hps, rng))
    b = batch(hps, trainer.cfg.is_pro, args.seconds, rng)
    trainer.train_step(b)  # warm-up: first-call kernel selection
    start = time.perf_counter()
    for _ in range(args.steps):
        trainer.train_step(b)
    print(f"train.s2.seconds_per_step: {(time.perf_counter() - start) / args.steps:.4g} s", flush=True)


if __name__ == "__main__":
    main()
