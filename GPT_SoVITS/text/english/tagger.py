"""Tokens and part-of-speech tags for English: NLTK's TweetTokenizer and averaged-perceptron tagger.

The tagger's data (``taggers/averaged_perceptron_tagger_eng/``, three JSON files) is looked up in the
folders of the ``NLTK_DATA`` environment variable, then in NLTK's usual data folders. Nothing is
downloaded: when it is missing we log once what to install and go on without tags, which only changes
the homographs (they take their default reading).
"""
from __future__ import annotations

import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

TAGGER_RESOURCE = Path("taggers") / "averaged_perceptron_tagger_eng"
TAGGER_FILES = tuple(f"averaged_perceptron_tagger_eng.{part}.json" for part in ("weights", "tagdict", "classes"))
INSTALL_HINT = "python -m nltk.downloader averaged_perceptron_tagger_eng"

Tagger = Callable[[list[str]], list[tuple[str, str]]]


@lru_cache(maxsize=1)
def tokenizer() -> Callable[[str], list[str]]:
    from nltk.tokenize import TweetTokenizer

    return TweetTokenizer().tokenize


def nltk_data_folders() -> list[Path]:
    folders = [Path(p) for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]
    try:
        import nltk.data

        folders += [Path(p) for p in nltk.data.path if isinstance(p, str)]
    except ImportError:
        pass
    return folders


def find_tagger_folder() -> Path | None:
    for root in nltk_data_folders():
        folder = root / TAGGER_RESOURCE
        if all((folder / name).is_file() for name in TAGGER_FILES):
            return folder
    return None


def load_tagger(folder: Path) -> Tagger:
    from nltk.tag.perceptron import PerceptronTagger

    weights, tagdict, classes = (json.loads((folder / name).read_text(encoding="utf-8")) for name in TAGGER_FILES)
    tagger = PerceptronTagger(load=False)
    tagger.decode_json_params((weights, tagdict, classes))
    return tagger.tag


@lru_cache(maxsize=1)
def default_tagger() -> Tagger | None:
    folder = find_tagger_folder()
    if folder is None:
        log.warning(
            "English part-of-speech tagger not found (NLTK data %s); homographs such as 'present' or "
            "'record' take their default reading. To install it: %s",
            TAGGER_RESOURCE.as_posix(),
            INSTALL_HINT,
        )
        return None
    return load_tagger(folder)
