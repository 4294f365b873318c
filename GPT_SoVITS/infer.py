"""Synthesis from the command line, for people without the server.

    python -m GPT_SoVITS.infer --ref clip.wav --prompt-text "参考音频的文字。" --text "要说的话。" --out out.wav

The flags mirror the /synthesize fields; the weight paths take the same environment variables as the
service (gpt_path, sovits_path, cnhubert_base_path, bert_path, sv_path). A progress bar counts segments.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields

from .pipeline import ModelPaths, SynthesisError, SynthesisOptions, WeightsMissingError
from .versions import default_paths

# This command's name (flag without the dashes, and environment variable) for each weight file.
WEIGHT_NAMES = {"gpt": "gpt_path", "sovits": "sovits_path", "hubert": "cnhubert_base_path", "bert": "bert_path",
                "speaker_verifier": "sv_path"}


def build_parser() -> argparse.ArgumentParser:
    defaults = {f.name: f.default for f in fields(SynthesisOptions) if f.name not in ("ref_wav_path", "text")}
    parser = argparse.ArgumentParser(prog="python -m GPT_SoVITS.infer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", required=True, help="reference clip, 3-10 s, any format ffmpeg/libsndfile reads")
    parser.add_argument("--text", required=True, help="text to speak ('-' reads it from stdin)")
    parser.add_argument("--out", required=True, help="output WAV file (32 kHz mono int16)")
    parser.add_argument("--prompt-text", default="", help="transcript of the clip; empty = reference-free mode")
    parser.add_argument("--prompt-language", default=defaults["prompt_language"])
    parser.add_argument("--text-language", default=defaults["text_language"],
                        help="all_zh, zh, all_ja, ja, en, auto (or 中文, 英文, 日文, 中英混合, 日英混合, 多语种混合)")
    parser.add_argument("--how-to-cut", default=defaults["how_to_cut"], help="cut0..cut5 or their Chinese labels")
    for name in ("top_k", "top_p", "temperature", "repetition_penalty", "speed", "noise_scale", "pause_second"):
        parser.add_argument("--" + name.replace("_", "-"), type=type(defaults[name]), default=defaults[name])
    parser.add_argument("--seed", type=int, default=None, help="fixed seed for reproducible output")
    parser.add_argument("--extra-ref", action="append", default=[], help="more clips for the timbre (averaged)")
    for key, default in default_paths().items():  # relative to the current folder: run from the repository
        name = WEIGHT_NAMES[key]
        parser.add_argument("--" + name.replace("_", "-"), default=os.environ.get(name, default),
                            help=f"[env {name}] (default: {default})")
    parser.add_argument("--device-target", default=None, help="CPU, Ascend or GPU (default: what the machine has)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    text = sys.stdin.read() if args.text == "-" else args.text
    options = SynthesisOptions(
        ref_wav_path=args.ref, text=text, prompt_text=args.prompt_text, prompt_language=args.prompt_language,
        text_language=args.text_language, how_to_cut=args.how_to_cut, top_k=args.top_k, top_p=args.top_p,
        temperature=args.temperature, repetition_penalty=args.repetition_penalty, speed=args.speed,
        noise_scale=args.noise_scale, seed=args.seed, pause_second=args.pause_second,
        extra_ref_wav_paths=args.extra_ref)
    paths = ModelPaths(**{key: getattr(args, name) for key, name in WEIGHT_NAMES.items()})
    try:
        write_wav(args.out, *synthesize_with_progress(paths, options, args.device_target))
    except WeightsMissingError as exc:
        print(f"error: {exc.worded_for(how_to_set)}", file=sys.stderr)
        return 1
    except SynthesisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(args.out)
    return 0


def how_to_set(key: str) -> str:
    name = WEIGHT_NAMES[key]
    return f"--{name.replace('_', '-')} or the variable {name}"


def synthesize_with_progress(paths: ModelPaths, options: SynthesisOptions, device_target: str | None):
    import numpy as np
    from tqdm import tqdm

    from . import runtime
    from .pipeline.synthesizer import Synthesizer

    runtime.configure(device_target)
    synthesizer = Synthesizer.load(paths)
    bar = tqdm(total=len(synthesizer.segments(options)), unit="segment", file=sys.stderr)
    chunks = []
    for chunk in synthesizer.stream(options):
        chunks.append(chunk)
        bar.update(1)
    bar.close()
    return synthesizer.sample_rate, np.concatenate(chunks)


def write_wav(path: str, sample_rate: int, audio) -> None:
    import soundfile as sf

    sf.write(path, audio, sample_rate, subtype="PCM_16")


if __name__ == "__main__":
    sys.exit(main())
