"""`python -m GPT_SoVITS.finetune.slice REC... --out DIR`: long recordings -> clips cut at silences, as
the reference web UI's slicer (tools/slice_audio.py with its default settings), plus a .list to fill in.

Each clip is written as the reference writes it, `<recording file name>_<start>_<end>.wav` (32 kHz
int16; start and end in samples, ten digits), and `DIR/slices.list` gets one `path|speaker|language|`
line per clip: type each clip's transcript after the last `|`, then give that .list to
`python -m GPT_SoVITS.finetune`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from GPT_SoVITS.training.prepare.audio import CLIP_RATE, load_clip
from GPT_SoVITS.training.prepare.errors import ClipError
from GPT_SoVITS.training.prepare.slicer import SliceSettings, slice_recording

# flag -> (SliceSettings field, type, help)
SETTINGS_FLAGS = {
    "--threshold": ("threshold_db", float, "dB: quieter frames may be cut"),
    "--min-length": ("min_length_ms", int, "ms: a clip grows past silences until it is this long"),
    "--min-interval": ("min_interval_ms", int, "ms: the shortest silence cut"),
    "--hop-size": ("hop_size_ms", int, "ms: the volume curve's step"),
    "--max-sil-kept": ("max_sil_kept_ms", int, "ms: the most silence kept around a cut"),
    "--max": ("max_amplitude", float, "peak after normalisation"),
    "--alpha": ("alpha", float, "share of the normalised clip mixed in"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m GPT_SoVITS.finetune.slice", description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", type=Path, help="recordings, or folders of recordings")
    parser.add_argument("--out", required=True, type=Path, help="folder for the clips and slices.list")
    parser.add_argument("--speaker", default="speaker", help="speaker name written to slices.list")
    parser.add_argument("--language", default="ZH", help="language written to slices.list (ZH, JA, EN)")
    defaults = SliceSettings()
    for flag, (field, kind, what) in SETTINGS_FLAGS.items():
        parser.add_argument(flag, dest=field, type=kind, default=getattr(defaults, field),
                            help=f"{what} (default: %(default)s)")
    return parser


def recordings(inputs: list[Path]) -> list[Path]:
    """Files as given; a folder's files in name order (slice_audio.py's sorted listdir)."""
    found: list[Path] = []
    for item in inputs:
        found += sorted(p for p in item.iterdir() if p.is_file()) if item.is_dir() else [item]
    return found


def slice_files(inputs: list[Path], out: Path, settings: SliceSettings, speaker: str, language: str) -> list[Path]:
    import soundfile as sf

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for path in recordings(inputs):
        for clip, start, end in slice_recording(load_clip(path, path.name), settings):
            target = out / f"{path.name}_{start:010d}_{end:010d}.wav"
            sf.write(str(target), clip, CLIP_RATE, subtype="PCM_16")
            written.append(target)
    lines = "".join(f"{p.resolve()}|{speaker}|{language}|\n" for p in written)
    (out / "slices.list").write_text(lines, encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = SliceSettings(**{field: getattr(args, field) for field, _, _ in SETTINGS_FLAGS.values()})
        written = slice_files(args.inputs, args.out, settings, args.speaker, args.language)
    except (ClipError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(written)} clips in {args.out}; transcribe them in {args.out / 'slices.list'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
