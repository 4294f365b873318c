"""Golden frontend rows for table-driven tests, and the optional data the English rows need.

Rows are read at collection time so each one is its own test; a missing corpus gives one placeholder
row whose test skips (fails where the run must not skip) through golden_data.frontend_file.
Only rows that reach the English frontend need the reference's English data (`require_english`);
every other row runs without it.
"""
from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import pytest

from golden_data import REPO_ROOT, frontend_dir, frontend_file, read_jsonl
from support.required import missing

SHARED = REPO_ROOT.parent / "shared"
MISSING = {"id": "corpus-missing"}
LATIN = re.compile(r"[A-Za-z]")  # English words: what the language split can send to the English frontend


def rows(name: str) -> list[dict]:
    path = frontend_dir() / name
    return read_jsonl(path) if path.exists() else [dict(MISSING, file=name)]


def row_id(row: dict) -> str:
    parts = [row.get("id"), row.get("version"), row.get("mode") or row.get("language")]
    return "-".join(str(p) for p in parts if p)


def require_corpus(row: dict) -> None:
    if row.get("id") == MISSING["id"]:
        frontend_file(row["file"])  # skips, or fails where the run must not skip


def skip_or_fail(message: str, how: str = "bash tests/run.sh (a full checkout, ../shared beside it)") -> None:
    """A missing input: a skip, or a failure where the run must not skip (support.required decides)."""
    missing(message, how)


def langs_of(row: dict) -> set[str]:
    """The languages a row lists: its own, or its pipeline segments' (cut rows list none)."""
    segments = row.get("segments") if isinstance(row.get("segments"), list) else []
    langs = {row.get("language")} | {s["lang"] for s in segments}
    return {lang for lang in langs if lang}


def needs_english(row: dict) -> bool:
    """Whether a row reaches the English frontend: by the languages it lists; for a row that lists
    none (cut rows, refused texts), English mode or any Latin letter in its text."""
    langs = langs_of(row)
    if langs:
        return "en" in langs
    return row.get("mode") == "en" or bool(LATIN.search(row.get("text", "")))


def require_language(lang: str) -> None:
    """English and Japanese come from their own modules; without them their rows skip (or fail)."""
    module = {"en": "english", "ja": "japanese"}.get(lang)
    if module is None:
        return
    try:
        importlib.import_module(f"GPT_SoVITS.text.{module}")
    except ImportError as exc:
        skip_or_fail(f"GPT_SoVITS.text.{module} unavailable: {exc}")


def english_data_paths() -> tuple[Path, Path]:
    """(dictionaries folder, NLTK data folder): the variables' values, else ../shared beside the checkout."""
    refdata = Path(os.environ.get("GPT_SOVITS_EN_DICT_DIR") or SHARED / "refdata")
    nltk_data = Path(os.environ.get("NLTK_DATA", "").split(os.pathsep)[0] or SHARED / "nltk_data")
    return refdata, nltk_data


def missing_english_data() -> list[tuple[Path, str]]:
    """What exact English lacks: (path, how to get it) for each missing file."""
    from GPT_SoVITS.text.english.dictionary import REFERENCE_FILES
    from GPT_SoVITS.text.english.tagger import TAGGER_RESOURCE

    refdata, nltk_data = english_data_paths()
    dictionaries = (f"the reference's English dictionaries ({', '.join(REFERENCE_FILES)}, from GPT-SoVITS's "
                    f"GPT_SoVITS/text/) in {refdata}, or GPT_SOVITS_EN_DICT_DIR=<their folder>")
    tagger = f"python -m nltk.downloader -d {nltk_data} {TAGGER_RESOURCE.name}, or NLTK_DATA=<its folder>"
    wanted = [(refdata / name, dictionaries) for name in REFERENCE_FILES] + [(nltk_data / TAGGER_RESOURCE, tagger)]
    return [(path, how) for path, how in wanted if not path.exists()]


def require_english() -> None:
    """For a row that reaches the English frontend: the reference's English data must be there."""
    for path, how in missing_english_data():
        skip_or_fail(f"test data for exact English: {path}", how)


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
    """Module fixture: point the English frontend at the reference data for the module's tests, when
    that data is there. Without it nothing is skipped here: the rows that need English call
    `require_english`, the others run as they are."""
    if missing_english_data():
        yield
        return
    refdata, nltk_data = english_data_paths()
    env = {"GPT_SOVITS_EN_DICT_DIR": str(refdata), "NLTK_DATA": str(nltk_data)}
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
