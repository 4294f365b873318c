"""Export GPT-SoVITS weights to MindSpore's own `.ckpt` format, with no PyTorch installed.

    python -m GPT_SoVITS.convert --s_path SoVITS.pth --g_path GPT.ckpt [--sv_path sv.ckpt] [--out_dir DIR]

The flags and output places are those of the original port's `convert.py`: SoVITS goes to
`SoVITS_weights/<name>-ms.ckpt` and GPT to `GPT_weights/<name>-ms.ckpt` (relative to the current
folder unless `--out_dir` is given), in the port's layout so both this service and the port read them.
Converting is optional: the service reads the PyTorch files directly.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from GPT_SoVITS.weights import (
    WeightLoadError,
    load_gpt_checkpoint,
    load_sovits_checkpoint,
    load_speaker_verifier_checkpoint,
)
from GPT_SoVITS.weights.mindspore_ckpt import MODEL_VERSION_KEY, write_mindspore_checkpoint

SOVITS_DIR, GPT_DIR, SV_DIR = "SoVITS_weights", "GPT_weights", "SV_weights"


def output_path(source: str | Path, folder: Path) -> Path:
    """`name.pth` / `name.ckpt` -> `folder/name-ms.ckpt`, as the port named them."""
    return folder / f"{Path(source).stem}-ms.ckpt"


def convert_sovits(source: str | Path, target: Path) -> Path:
    ckpt = load_sovits_checkpoint(source)
    extra = {MODEL_VERSION_KEY: ckpt.version.model}  # no file header in a .ckpt: keep v2Pro vs v2ProPlus
    return write_mindspore_checkpoint(target, "sovits", ckpt.state, ckpt.hps.to_dict(), ckpt.info, extra)


def convert_gpt(source: str | Path, target: Path) -> Path:
    ckpt = load_gpt_checkpoint(source)
    return write_mindspore_checkpoint(target, "gpt", ckpt.state, ckpt.config, ckpt.info)


def convert_speaker_verifier(source: str | Path, target: Path) -> Path:
    return write_mindspore_checkpoint(target, "other", load_speaker_verifier_checkpoint(source), None)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m GPT_SoVITS.convert", description=__doc__.split("\n\n")[0])
    parser.add_argument("--s_path", help="SoVITS (s2) weights, .pth or the port's .ckpt")
    parser.add_argument("--g_path", help="GPT (s1) weights, .ckpt")
    parser.add_argument("--sv_path", help="speaker-verification weights (v2Pro/v2ProPlus), .ckpt")
    parser.add_argument("--out_dir", default=".", help="where SoVITS_weights/, GPT_weights/, SV_weights/ go")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = Path(args.out_dir)
    jobs = [
        ("SoVITS", args.s_path, SOVITS_DIR, convert_sovits),
        ("GPT", args.g_path, GPT_DIR, convert_gpt),
        ("speaker-verifier", args.sv_path, SV_DIR, convert_speaker_verifier),
    ]
    status = 0
    for label, source, folder, convert in jobs:
        if source is None:
            print(f"Skip {label} model conversion")
            continue
        try:
            target = convert(source, output_path(source, out / folder))
        except WeightLoadError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"convert {label}: {source} -> {target}")
    return status


if __name__ == "__main__":
    sys.exit(main())
