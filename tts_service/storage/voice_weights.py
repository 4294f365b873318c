"""A voice model's own GPT/SoVITS weights, as its record keeps them and as clients see them.

The record's `weights` is None (the default pair) or `{"gpt", "sovits", "owned", "task_id"}`: each file
path (None: the default pair's file for that model), relative to the data dir when inside it (so a moved
data dir keeps working), and whether the voice owns the files: weights a fine-tune made live in the
voice's private folder `voices/<model_id>/weights/` and are deleted with the voice or when replaced;
weights the operator pointed at stay where they are. Clients see paths relative to the data dir or the
repository, never absolute server paths.
"""
from __future__ import annotations

from pathlib import Path

from GPT_SoVITS.pipeline import VoiceWeights

from ..settings import REPO_ROOT, Settings

WEIGHTS_FOLDER = "weights"  # inside voices/<model_id>/
ROLES = ("gpt", "sovits")


def stored_path(path: Path, settings: Settings) -> str:
    """How the record keeps a file: relative to the data dir when inside it, else absolute."""
    real = Path(path).resolve()
    try:
        return str(real.relative_to(Path(settings.data_dir).resolve()))
    except ValueError:
        return str(real)


def real_path(stored: str, settings: Settings) -> str:
    return str((Path(settings.data_dir) / stored).resolve())


def shown_path(stored: str | None, settings: Settings) -> str | None:
    """A path a client may see: relative to the data dir or the repository, else the file's name."""
    if stored is None:
        return None
    real = Path(real_path(stored, settings))
    for root in (Path(settings.data_dir).resolve(), REPO_ROOT):
        try:
            return str(real.relative_to(root))
        except ValueError:
            continue
    return real.name


def record_weights(gpt: Path | None, sovits: Path | None, owned: bool, settings: Settings,
                   task_id: str | None = None) -> dict | None:
    """The record's `weights` for these files (None when neither is given: the default pair)."""
    if gpt is None and sovits is None:
        return None
    return {"gpt": None if gpt is None else stored_path(gpt, settings),
            "sovits": None if sovits is None else stored_path(sovits, settings),
            "owned": owned, "task_id": task_id}


def pipeline_weights(record: dict, settings: Settings) -> VoiceWeights | None:
    """What a synthesis with this voice asks the engine for (real paths), or None: the default pair."""
    weights = record.get("weights")
    if not weights:
        return None
    return VoiceWeights(**{role: None if weights.get(role) is None else real_path(weights[role], settings)
                           for role in ROLES})


def public_weights(record: dict, settings: Settings) -> dict | None:
    weights = record.get("weights")
    if not weights:
        return None
    return {"gpt": shown_path(weights.get("gpt"), settings), "sovits": shown_path(weights.get("sovits"), settings),
            "owned": bool(weights.get("owned")), "task_id": weights.get("task_id")}


def owned_files(weights: dict | None, settings: Settings) -> set[Path]:
    """The files a voice's weights own (deleted when the voice or these weights go)."""
    if not weights or not weights.get("owned"):
        return set()
    return {Path(real_path(weights[role], settings)) for role in ROLES if weights.get(role)}
