"""Where the golden data lives, for every parity test.

`GOLDEN_DIR` (models) and `GOLDEN_FRONTEND_DIR` (text frontend) point at a golden set; by default the
copies under `tests/golden/`. The repository copy of the model goldens leaves out the large weight
files: when `GOLDEN_DIR` is not set, a file missing from the copy is read from `../shared/golden/models`
(the same seed). When `GOLDEN_DIR` is set, only that directory is used, so another golden set is never
mixed with this one. On CI (`CI=true`) a missing golden file is a failure, elsewhere a skip.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
_REPO_MODELS = REPO_ROOT / "tests" / "golden" / "models"
_SHARED_MODELS = REPO_ROOT.parent / "shared" / "golden" / "models"


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def models_dir() -> Path:
    return Path(os.environ.get("GOLDEN_DIR") or _REPO_MODELS)


def frontend_dir() -> Path:
    return Path(os.environ.get("GOLDEN_FRONTEND_DIR") or REPO_ROOT / "tests" / "golden" / "frontend")


def _missing(what: str) -> None:
    message = f"golden data missing: {what}"
    if on_ci():
        pytest.fail(message)
    pytest.skip(message)


def model_file(relative: str) -> Path:
    """Path of a file of the model goldens, e.g. ``model_file("gpt/v2/model.ckpt")``."""
    primary = models_dir() / relative
    if primary.exists():
        return primary
    if not os.environ.get("GOLDEN_DIR"):
        fallback = _SHARED_MODELS / relative
        if fallback.exists():
            return fallback
    _missing(str(primary))
    raise AssertionError("unreachable")


def model_subdirs(group: str) -> list[str]:
    """Names of the model folders present under a group (e.g. ``sovits`` -> ``["v1", "v2", "v2Pro"]``).

    Used at collection time to parametrise tests over every folder of the golden set in use.
    """
    names: set[str] = set()
    for root in [models_dir()] + ([] if os.environ.get("GOLDEN_DIR") else [_SHARED_MODELS]):
        folder = root / group
        if folder.is_dir():
            names.update(p.name for p in folder.iterdir() if p.is_dir())
    return sorted(names)


def model_meta(relative_dir: str) -> dict:
    return json.loads(model_file(f"{relative_dir}/meta.json").read_text(encoding="utf-8"))


def frontend_file(name: str) -> Path:
    path = frontend_dir() / name
    if not path.exists():
        _missing(str(path))
    return path


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
