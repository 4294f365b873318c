"""The languages and cut methods a request may name: the text frontend's tables, label or code.

`GPT_SoVITS.text.languages` and `GPT_SoVITS.text.cuts` are the one source of truth; this module
only turns them into "accepted key -> code" lookups for request validation.
"""
from __future__ import annotations

from GPT_SoVITS.text.cuts import CUTS, LABEL_TO_CUT
from GPT_SoVITS.text.languages import LABEL_TO_MODE, MODES

LANGUAGES: dict[str, str] = {**LABEL_TO_MODE, **{mode: mode for mode in MODES}}
CUT_METHODS: dict[str, str] = {**LABEL_TO_CUT, **{name: name for name in CUTS}}


def language_code(value: str) -> str | None:
    return LANGUAGES.get(value)


def cut_code(value: str) -> str | None:
    return CUT_METHODS.get(value)
