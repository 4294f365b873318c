"""One language segment -> (phones, word2ph, norm_text), as the reference's text/cleaner.py.

Language modules expose `text_normalize(text) -> str` and `g2p(norm_text)`; Chinese g2p also returns
word2ph. English and Japanese live in `english/` and `japanese.py` and are imported on first use.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from .symbols import symbol_table

# Chinese text containing one of these is read with every pause turned into the given silence symbol.
SPECIAL_SILENCES = {"￥": "SP2", "^": "SP3"}
SUPPORTED_LANGUAGES = ("zh", "ja", "en")


class UnsupportedLanguage(ValueError):
    pass


def language_module(language: str) -> ModuleType:
    names = {"zh": "chinese", "ja": "japanese", "en": "english"}
    if language not in names:
        raise UnsupportedLanguage(f"no text frontend for language {language!r} (have: zh, ja, en)")
    return importlib.import_module(f"{__package__}.{names[language]}")


def _zh_g2p(norm_text: str, version: str) -> tuple[list[str], list[int]]:
    return language_module("zh").g2p(norm_text, version)


def clean_text(text: str, language: str, version: str = "v2") -> tuple[list[str], list[int] | None, str]:
    """Normalise and phonemise one segment. Phones outside the version's table become "UNK".

    As in the reference, a language it does not know (other than ko/yue, which it would send to
    modules we do not have) is read as English " ".
    """
    if language in ("ko", "yue"):
        raise UnsupportedLanguage(f"no text frontend for language {language!r} (have: zh, ja, en)")
    if language not in SUPPORTED_LANGUAGES:
        language, text = "en", " "
    if language == "zh":
        for mark, silence in SPECIAL_SILENCES.items():
            if mark in text:
                return _clean_with_silence(text, mark, silence, version)
    module = language_module(language)
    norm_text = module.text_normalize(text)
    word2ph = None
    if language == "zh":
        phones, word2ph = _zh_g2p(norm_text, version)
        if sum(word2ph) != len(phones) or len(word2ph) != len(norm_text):
            raise ValueError(f"word2ph does not cover {norm_text!r}")
    else:
        phones = list(module.g2p(norm_text))
        if language == "en" and len(phones) < 4:
            phones = [","] + phones  # the reference pads very short English
    table = set(symbol_table(version))
    return ["UNK" if p not in table else p for p in phones], word2ph, norm_text


def _clean_with_silence(text: str, mark: str, silence: str, version: str):
    # The mark becomes a comma, and then *every* comma phone (not only that one) becomes the silence.
    norm_text = language_module("zh").text_normalize(text.replace(mark, ","))
    phones, word2ph = _zh_g2p(norm_text, version)
    return [silence if p == "," else p for p in phones], word2ph, norm_text
