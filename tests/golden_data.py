"""Where the golden data lives, for every parity test.

`GOLDEN_DIR` (models) and `GOLDEN_FRONTEND_DIR` (text frontend) point at a golden set; by default the
copies under `tests/golden/`. The repository copy of the model goldens leaves out the large weight
files: when `GOLDEN_DIR` is not set, a file missing from the copy is read from `../shared/golden/models`
(the same seed). When `GOLDEN_DIR` is set, only that directory is used, so another golden set is never
mixed with this one. A missing golden file is a failure where the run must not skip (CI,
TESTS_NO_SKIP=1, --no-skip: `support/required.py`), elsewhere a skip; both name the file and where it
comes from. A group with no folder at all (e.g. no `sovits/*`) gives one placeholder parameter whose
test reports the missing folder the same way, instead of an empty, silently skipped parametrisation.
"""
from __future__ import annotations

import json
import os
import posixpath
from pathlib import Path

from support.required import missing, must_not_skip

REPO_ROOT = Path(__file__).resolve().parent.parent
_REPO_MODELS = REPO_ROOT / "tests" / "golden" / "models"
_SHARED_MODELS = REPO_ROOT.parent / "shared" / "golden" / "models"
MISSING_FOLDER = "golden-folder-missing"  # the placeholder parameter of an empty group


def on_ci() -> bool:
    """Kept for existing callers: whether this run must not skip (support.required decides)."""
    return must_not_skip()


def models_dir() -> Path:
    return Path(os.environ.get("GOLDEN_DIR") or _REPO_MODELS)


def frontend_dir() -> Path:
    return Path(os.environ.get("GOLDEN_FRONTEND_DIR") or REPO_ROOT / "tests" / "golden" / "frontend")


def _missing(what: str, variable: str = "GOLDEN_DIR") -> None:
    if os.environ.get(variable):
        how = f"{variable}={os.environ[variable]} must point at a complete golden set"
    elif variable == "GOLDEN_DIR":
        how = (f"the repository's tests/golden/models (a full checkout), with its large weight files in "
               f"{_SHARED_MODELS} (the ../shared folder beside the checkout), or GOLDEN_DIR=<a golden set>")
    else:
        how = f"the repository's tests/golden/frontend (a full checkout), or {variable}=<a golden set>"
    missing(f"golden data {what}", how)


def model_file(relative: str) -> Path:
    """Path of a file of the model goldens, e.g. ``model_file("gpt/v2/model.ckpt")``."""
    primary = models_dir() / relative
    parts = Path(relative).parts
    placeholder = [i for i, part in enumerate(parts) if part.startswith(MISSING_FOLDER)]
    if placeholder:  # the parameter of an empty group (model_subdirs)
        wanted = parts[placeholder[0]].removeprefix(MISSING_FOLDER).strip("-").replace("-", " ") or "model"
        _missing(f"(no {wanted} folder under {models_dir() / Path(*parts[: placeholder[0]])})")
    if primary.exists():
        return primary
    if not os.environ.get("GOLDEN_DIR"):
        fallback = _SHARED_MODELS / relative
        if fallback.exists():
            return fallback
    _missing(str(primary))
    raise AssertionError("unreachable")


def model_subdirs(group: str, only: set[str] | None = None) -> list[str]:
    """Names of the model folders present under a group (e.g. ``sovits`` -> ``["v1", "v2", "v2Pro"]``),
    or only those of them named in `only`.

    Used at collection time to parametrise tests over every folder of the golden set in use. With none
    present the list is ``[MISSING_FOLDER]``: its test fails (or skips) through `model_file`, naming
    the empty group, so a missing golden folder is never an empty parameter set.
    """
    names: set[str] = set()
    for root in [models_dir()] + ([] if os.environ.get("GOLDEN_DIR") else [_SHARED_MODELS]):
        folder = root / group
        if folder.is_dir():
            names.update(p.name for p in folder.iterdir() if p.is_dir())
    if only is None:
        return sorted(names) or [MISSING_FOLDER]
    return sorted(names & set(only)) or [f"{MISSING_FOLDER}-{'-or-'.join(sorted(only))}"]


def e2e_file(relative_to_e2e: str, inside: str | None = None) -> Path:
    """A file `e2e/meta.json` names relative to the e2e folder (e.g. ``../gpt/v2/model.ckpt``); for a
    model folder, `inside` names a file it must hold (the repository copy of a folder may lack its
    large weights, which are then found in the shared copy) and the folder is returned."""
    relative = posixpath.normpath(posixpath.join("e2e", relative_to_e2e))
    if inside is None:
        return model_file(relative)
    return model_file(f"{relative}/{inside}").parent


def model_meta(relative_dir: str) -> dict:
    return json.loads(model_file(f"{relative_dir}/meta.json").read_text(encoding="utf-8"))


def frontend_file(name: str) -> Path:
    path = frontend_dir() / name
    if not path.exists():
        _missing(str(path), "GOLDEN_FRONTEND_DIR")
    return path


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
