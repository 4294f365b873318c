"""The set of models one synthesis needs, loaded together from `ModelPaths`.

GPT-SoVITS picks its text frontend from the SoVITS file (322 symbols -> v1, else v2), so the symbol
version lives here, next to the models that define it. v2Pro/v2ProPlus also need the
speaker-verification network; other versions never load it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import WeightsMissingError
from .options import ModelPaths

# What each path is, for messages that tell the user which file is missing and how to set it.
PATH_LABELS = {
    "gpt": "GPT (s1) checkpoint, flag --gpt-path / env gpt_path",
    "sovits": "SoVITS (s2G) checkpoint, flag --sovits-path / env sovits_path",
    "hubert": "chinese-hubert-base folder, flag --cnhubert-base-path / env cnhubert_base_path",
    "bert": "chinese-roberta-wwm-ext-large folder, flag --bert-path / env bert_path",
    "speaker_verifier": "speaker-verification checkpoint (v2Pro/v2ProPlus), flag --sv-path / env sv_path",
}


def missing_paths(paths: ModelPaths, *, need_speaker_verifier: bool = False) -> list[str]:
    """Human-readable lines, one per weight location that does not exist."""
    missing = []
    for name in ("gpt", "sovits", "hubert", "bert"):
        value = getattr(paths, name)
        if not value or not Path(value).exists():
            missing.append(f"{value or '(not set)'}  <- {PATH_LABELS[name]}")
    if need_speaker_verifier and not (paths.speaker_verifier and Path(paths.speaker_verifier).exists()):
        missing.append(f"{paths.speaker_verifier or '(not set)'}  <- {PATH_LABELS['speaker_verifier']}")
    return missing


def require_paths(paths: ModelPaths, *, need_speaker_verifier: bool = False) -> None:
    missing = missing_paths(paths, need_speaker_verifier=need_speaker_verifier)
    if missing:
        raise WeightsMissingError(
            "模型权重缺失 (model weights missing):\n  " + "\n  ".join(missing)
            + "\nSee README.md, section 'Models and weights', for where to download them."
        )


@dataclass
class Models:
    gpt: "object"  # GPT_SoVITS.models.gpt.GPT
    sovits: "object"  # GPT_SoVITS.models.sovits.SoVITS
    hubert: "object"  # GPT_SoVITS.models.hubert.HubertModel
    bert: "object"  # GPT_SoVITS.models.bert.ChineseBert
    speaker: "object | None"  # GPT_SoVITS.models.speaker.SpeakerVerifier, Pro models only
    paths: ModelPaths

    @property
    def symbol_version(self) -> str:
        return self.sovits.symbols_version

    @property
    def model_version(self) -> str:
        return self.sovits.version

    @property
    def sample_rate(self) -> int:
        return self.sovits.sampling_rate

    @property
    def is_pro(self) -> bool:
        return self.speaker is not None

    def versions(self) -> dict[str, str]:
        return {"sovits": self.model_version, "symbols": self.symbol_version}


def load_models(paths: ModelPaths) -> Models:
    """Load every model named by `paths`; a missing file is a `WeightsMissingError` listing all of them."""
    from GPT_SoVITS.models.bert import ChineseBert
    from GPT_SoVITS.models.gpt import load_gpt
    from GPT_SoVITS.models.hubert import load_hubert
    from GPT_SoVITS.models.sovits import load_sovits

    require_paths(paths)
    sovits = load_sovits(paths.sovits)
    speaker = None
    if sovits.is_pro:
        require_paths(paths, need_speaker_verifier=True)
        from GPT_SoVITS.models.speaker import SpeakerVerifier

        speaker = SpeakerVerifier.load(paths.speaker_verifier)
    return Models(
        gpt=load_gpt(paths.gpt),
        sovits=sovits,
        hubert=load_hubert(paths.hubert),
        bert=ChineseBert(paths.bert),
        speaker=speaker,
        paths=paths,
    )
