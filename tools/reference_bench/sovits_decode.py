"""The reference's SoVITS decode speed: RVC-Boss/GPT-SoVITS `SynthesizerTrn.decode` with PyTorch on the CPU.

    REF_DIR=/work/ref /work/torch-venv/bin/python tools/reference_bench/sovits_decode.py [--repeats 3]

Full-size v2 model (the reference's configs/s2.json, 732 symbols), random weights N(0, 0.02) like
bench/random_models.py, the same inputs as `python -m bench.run --only sovits`: 250 codes (10 s of
audio), 100 phones, one 5 s reference spectrogram, seed 0. Prints, as bench/run.py does:

    reference.sovits.decode_10s: <best of --repeats> s
    reference.sovits.gflops_per_second: <generator convolution GFLOP of that decode / seconds> GFLOP/s

The GFLOP are counted from the generator's Conv1d / ConvTranspose1d shapes during the decode (2 x
multiply-adds), so both projects are divided by the same work. Weight norm stays on, as the reference
runs it. Needs torch, numpy, einops and tqdm only: modules the decode never reaches (f5_tts) are stubbed.
Development tool: the product and its tests never import torch.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

CODES, PHONES, REF_FRAMES, SYMBOLS, SEED, WEIGHT_STD = 250, 100, 250, 732, 0, 0.02


def import_reference(ref_dir: Path):
    sys.path[:0] = [str(ref_dir), str(ref_dir / "GPT_SoVITS")]
    stub = types.ModuleType("f5_tts.model")  # the v3/v4 DiT: not on the v2 decode path
    stub.DiT = object
    sys.modules.setdefault("f5_tts", types.ModuleType("f5_tts"))
    sys.modules["f5_tts.model"] = stub
    from module.models import SynthesizerTrn  # noqa: E402

    return SynthesizerTrn


def randomize(model: torch.nn.Module) -> None:
    """N(0, 0.02) everywhere; norm scales 1; weight-norm pairs with g = ||v|| so each weight is v."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if "norm" in name.lower() and leaf in ("weight", "gamma") or leaf == "alpha":
                p.fill_(1.0)
            elif leaf != "weight_g":
                p.normal_(0.0, WEIGHT_STD, generator=gen)
        for name, module in model.named_modules():
            if hasattr(module, "weight_g") and hasattr(module, "weight_v"):
                v = module.weight_v
                dims = tuple(range(1, v.dim()))
                module.weight_g.copy_(v.norm(dim=dims, keepdim=True))


def count_conv_flops(generator: torch.nn.Module) -> list[int]:
    """Hooks adding each generator convolution's 2 x multiply-adds to the returned one-item list."""
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, torch.nn.ConvTranspose1d):  # every input sample meets k x out weights
            total[0] += 2 * inputs[0].numel() * module.out_channels * module.kernel_size[0] // module.groups
        else:
            total[0] += 2 * output.numel() * module.in_channels * module.kernel_size[0] // module.groups

    for module in generator.modules():
        if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
            module.register_forward_hook(hook)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ref_dir = Path(os.environ.get("REF_DIR", "/work/ref"))
    SynthesizerTrn = import_reference(ref_dir)
    hps = json.loads((ref_dir / "GPT_SoVITS/configs/s2.json").read_text())
    model = SynthesizerTrn(hps["data"]["filter_length"] // 2 + 1,
                           hps["train"]["segment_size"] // hps["data"]["hop_length"],
                           n_speakers=hps["data"]["n_speakers"], version="v2", **hps["model"])
    text_embedding = model.enc_p.text_embedding
    if text_embedding.num_embeddings != SYMBOLS:
        raise SystemExit(f"expected the v2 table of {SYMBOLS} symbols, got {text_embedding.num_embeddings}")
    del model.enc_q  # training only, as in the reference's inference
    randomize(model)
    model.eval()
    flops = count_conv_flops(model.dec)
    rng = np.random.default_rng(SEED)
    codes = torch.from_numpy(rng.integers(0, 1024, (1, 1, CODES)))
    phones = torch.from_numpy(rng.integers(0, SYMBOLS, (1, PHONES)))
    spec = torch.from_numpy(np.abs(rng.standard_normal((1, 1025, REF_FRAMES))).astype(np.float32))
    torch.manual_seed(SEED)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    times = []
    with torch.inference_mode():
        for _ in range(args.repeats + 1):  # the first call warms up
            flops[0] = 0
            start = time.perf_counter()
            audio = model.decode(codes, phones, spec)
            times.append(time.perf_counter() - start)
    seconds = min(times[1:])
    print(f"reference.sovits.audio_seconds: {audio.shape[-1] / hps['data']['sampling_rate']:.4g} s", flush=True)
    print(f"reference.sovits.decode_10s: {seconds:.4g} s (all: {', '.join(f'{t:.3g}' for t in times[1:])})")
    print(f"reference.sovits.generator_gflop: {flops[0] / 1e9:.4g} GFLOP")
    print(f"reference.sovits.gflops_per_second: {flops[0] / 1e9 / seconds:.4g} GFLOP/s")


if __name__ == "__main__":
    main()
