"""The fine-tuning command's flags and the options they decode to (one place for their defaults).

The training knobs are the reference web UI's (webui.py, "1Ba" SoVITS and "1Bb" GPT training), with its
defaults; the weight paths default as the service's and `GPT_SoVITS.infer`'s (the version's released
files under GPT_SoVITS/pretrained_models, the same environment variables).
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from GPT_SoVITS.infer import WEIGHT_NAMES
from GPT_SoVITS.versions import DEFAULT_VERSION, SUPPORTED, VERSIONS, WEIGHT_FILES, default_paths

REPO_ROOT = Path(__file__).resolve().parents[2]  # where GPT_SoVITS/pretrained_models is


@dataclass(frozen=True)
class FinetuneOptions:
    list_path: Path
    out: Path
    version: str
    pretrained_s1: Path
    pretrained_s2G: Path
    pretrained_s2D: Path | None
    cnhubert_base_path: Path
    bert_path: Path
    sv_path: Path | None
    wav_dir: Path | None = None
    name: str = "finetune"  # the experiment name: the exported files' prefix
    sovits_epochs: int = 8
    gpt_epochs: int = 15
    batch_size: int = 4
    gpt_batch_size: int = 4
    text_low_lr_rate: float = 0.4
    sovits_save_every_epoch: int = 4
    gpt_save_every_epoch: int = 5
    save_every_steps: int = 0  # 0: save only at `save_every_epoch` boundaries
    if_save_latest: bool = True
    if_save_every_weights: bool = True
    learning_rate_scale: float = 1.0
    if_dpo: bool = False  # GPT: the reference's DPO loss (its web UI's checkbox, off by default)
    seed: int = 1234
    skip_bad_clips: bool = False
    prepare_only: bool = False
    device_target: str | None = None

    @property
    def prepared(self) -> Path:
        return self.out / "prepared"

    def state_dir(self, model: str) -> Path:
        return self.out / "state" / model

    @property
    def metrics(self) -> Path:
        return self.out / "metrics.jsonl"


def released_discriminator(generator: Path) -> Path | None:
    """The reference's rule: the pretrained discriminator is the generator's file with s2G -> s2D."""
    candidate = generator.with_name(generator.name.replace("s2G", "s2D"))
    return candidate if candidate != generator and candidate.exists() else None


def _weight_default(key: str, version: str) -> str:
    """A weight path's default: the version's released file under the repository (anchored there as the
    service anchors its defaults); for the shared models (HuBERT, BERT, speaker verifier) their variable
    first, as the service and `GPT_SoVITS.infer` read it. The GPT and SoVITS files to start from are the
    released base models, never the service's `gpt_path` / `sovits_path` (what it serves)."""
    released = {**default_paths(), **VERSIONS[version].released()}
    default = str(REPO_ROOT / released[key])
    return os.environ.get(WEIGHT_NAMES[key], default) if WEIGHT_FILES[key].shared else default


# The numeric knobs: (field, type, help); their defaults are `FinetuneOptions`'.
KNOBS = (
    ("sovits_epochs", int, "SoVITS (s2) epochs; 0 skips its training"),
    ("gpt_epochs", int, "GPT (s1) epochs; 0 skips its training"),
    ("batch_size", int, "clips per SoVITS step (and GPT step unless --gpt-batch-size)"),
    ("sovits_save_every_epoch", int, "SoVITS: save the state (and export) every this many epochs"),
    ("gpt_save_every_epoch", int, "GPT: save the state (and export) every this many epochs"),
    ("save_every_steps", int, "also save the state every this many steps (0: at epoch saves only)"),
    ("seed", int, "random seed of both trainings"),
    ("text_low_lr_rate", float, "SoVITS: the text encoder's learning rate, as a share of the others'"),
    ("learning_rate_scale", float, "multiplies both trainings' learning rates"),
)


def build_parser() -> argparse.ArgumentParser:
    defaults = FinetuneOptions.__dataclass_fields__
    parser = argparse.ArgumentParser(prog="python -m GPT_SoVITS.finetune",
                                     description="Few-shot fine-tuning: prepare a .list of clips, train SoVITS "
                                                 "(s2) then GPT (s1), export the web UI's files.")
    add = parser.add_argument
    add("--list", dest="list_path", required=True, type=Path, help="the .list: path|speaker|language|text per clip")
    add("--out", required=True, type=Path, help="output folder: prepared/, state/, metrics.jsonl, sovits/, gpt/")
    add("--version", default=DEFAULT_VERSION, choices=SUPPORTED)
    add("--wav-dir", type=Path, default=None, help="folder of the clips (then only the listed file names count)")
    add("--name", default=None, help="experiment name, the exported files' prefix (default: the --out folder's name)")
    add("--pretrained-s1", type=Path, default=None, help="GPT checkpoint to start from (default: the version's "
        "released one under GPT_SoVITS/pretrained_models)")
    add("--pretrained-s2G", type=Path, default=None, help="SoVITS generator to start from (default: the version's "
        "released one under GPT_SoVITS/pretrained_models)")
    add("--pretrained-s2D", type=Path, default=None, help="SoVITS discriminator (default: the s2G file's s2D twin "
        "if it exists, as the reference)")
    for key, flag in (("hubert", "--cnhubert-base-path"), ("bert", "--bert-path"), ("speaker_verifier", "--sv-path")):
        add(flag, type=Path, default=None, help=f"[env {WEIGHT_NAMES[key]}] (default: <repository>/{default_paths()[key]})")
    for field, kind, what in KNOBS:
        add("--" + field.replace("_", "-"), type=kind, default=defaults[field].default,
            help=f"{what} (default: %(default)s)")
    add("--gpt-batch-size", type=int, default=None, help="GPT batch size (default: --batch-size)")
    add("--if-save-latest", action=argparse.BooleanOptionalAction, default=True,
        help="keep only the latest training state (else every saved one is kept)")
    add("--if-save-every-weights", action=argparse.BooleanOptionalAction, default=True,
        help="export the web UI's files at every save (else at the end only)")
    add("--if-dpo", action="store_true", help="GPT: train with the reference's DPO loss (each batch also on "
        "corrupted codes; about twice the time per step)")
    add("--skip-bad-clips", action="store_true", help="train without the clips that fail preparation")
    add("--prepare-only", action="store_true", help="prepare the dataset and stop")
    add("--device-target", default=None, help="CPU, Ascend or GPU (default: what the machine has)")
    return parser


def parse_options(argv: list[str] | None = None) -> FinetuneOptions:
    parser = build_parser()
    args = parser.parse_args(argv)
    for field in ("sovits_epochs", "gpt_epochs", "save_every_steps"):
        if getattr(args, field) < 0:
            parser.error(f"--{field.replace('_', '-')} must be >= 0")
    for field in ("batch_size", "sovits_save_every_epoch", "gpt_save_every_epoch"):
        if getattr(args, field) < 1:
            parser.error(f"--{field.replace('_', '-')} must be >= 1")
    version = args.version
    s2g = args.pretrained_s2G or Path(_weight_default("sovits", version))
    is_pro = VERSIONS[version].pro
    return FinetuneOptions(
        list_path=args.list_path, out=args.out, version=version,
        pretrained_s1=args.pretrained_s1 or Path(_weight_default("gpt", version)), pretrained_s2G=s2g,
        pretrained_s2D=args.pretrained_s2D or released_discriminator(s2g),
        cnhubert_base_path=args.cnhubert_base_path or Path(_weight_default("hubert", version)),
        bert_path=args.bert_path or Path(_weight_default("bert", version)),
        sv_path=(args.sv_path or Path(_weight_default("speaker_verifier", version))) if is_pro else None,
        wav_dir=args.wav_dir, name=args.name or args.out.resolve().name, sovits_epochs=args.sovits_epochs,
        gpt_epochs=args.gpt_epochs, batch_size=args.batch_size, gpt_batch_size=args.gpt_batch_size or args.batch_size,
        text_low_lr_rate=args.text_low_lr_rate, sovits_save_every_epoch=args.sovits_save_every_epoch,
        gpt_save_every_epoch=args.gpt_save_every_epoch, save_every_steps=args.save_every_steps,
        if_save_latest=args.if_save_latest, if_save_every_weights=args.if_save_every_weights,
        learning_rate_scale=args.learning_rate_scale, if_dpo=args.if_dpo, seed=args.seed,
        skip_bad_clips=args.skip_bad_clips, prepare_only=args.prepare_only, device_target=args.device_target)
