"""Golden frontend rows for table-driven tests, and the optional data the English rows need.

Rows are read at collection time so each one is its own test; a missing corpus gives one placeholder
row whose test skips (fails on CI) through golden_data.frontend_file.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from golden_data import REPO_ROOT, frontend_dir, frontend_file, on_ci, read_jsonl

SHARED = REPO_ROOT.parent / "shared"
MISSING = {"id": "corpus-missing"}


def rows(name: str) -> list[dict]:
    path = frontend_dir() / name
    return read_jsonl(path) if path.exists() else [dict(MISSING, file=name)]


def row_id(row: dict) -> str:
    parts = [row.get("id"), row.get("version"), row.get("mode") or row.get("language")]
    return "-".join(str(p) for p in parts if p)


def require_corpus(row: dict) -> None:
    if row.get("id") == MISSING["id"]:
        frontend_file(row["file"])  # skips, or fails on CI


def skip_or_fail(message: str) -> None:
    pytest.fail(message) if on_ci() else pytest.skip(message)


def require_language(lang: str) -> None:
    """English and Japanese come from their own modules; without them their rows skip (fail on CI)."""
    module = {"en": "english", "ja": "japanese"}.get(lang)
    if module is None:
        return
    try:
        importlib.import_module(f"GPT_SoVITS.text.{module}")
    except ImportError as exc:
        skip_or_fail(f"GPT_SoVITS.text.{module} unavailable: {exc}")


def reference_english_data() -> dict[str, str]:
    """Environment that makes the English frontend use the reference's dictionaries and NLTK tagger."""
    refdata = Path(os.environ.get("GPT_SOVITS_EN_DICT_DIR") or SHARED / "refdata")
    nltk_data = Path(os.environ.get("NLTK_DATA", "").split(os.pathsep)[0] or SHARED / "nltk_data")
    for needed in (refdata / "cmudict.rep", nltk_data / "taggers" / "averaged_perceptron_tagger_eng"):
        if not needed.exists():
            skip_or_fail(f"test data missing for exact English: {needed}")
    return {"GPT_SOVITS_EN_DICT_DIR": str(refdata), "NLTK_DATA": str(nltk_data)}


def reset_english_caches() -> None:
    """The English frontend keeps its dictionary and tagger for the process; rebuild on next use."""
    try:
        english = importlib.import_module("GPT_SoVITS.text.english")
    except ImportError:
        return
    for name in ("default_g2p",):
        cached = getattr(english, name, None)
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()
    for module_name, name in (("dictionary", "default_lexicon"), ("tagger", "default_tagger")):
        module = importlib.import_module(f"GPT_SoVITS.text.english.{module_name}")
        cached = getattr(module, name, None)
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


@pytest.fixture(scope="module")
def exact_english():
    """Module fixture: point the English frontend at the reference data for the module's tests."""
    env = reference_english_data()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    reset_english_caches()
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    reset_english_caches()
