"""The languages and cut methods a request may name, from the text frontend when it is installed.

`GPT_SoVITS.text.languages` is the one source of truth; the tables below are the same 12 language
keys and 12 cut keys (the reference's Chinese labels and their codes), used only while the frontend
module is absent so that the service still validates requests.
"""
from __future__ import annotations

_FALLBACK_LANGUAGES = {
    "中文": "all_zh", "英文": "en", "日文": "all_ja", "中英混合": "zh", "日英混合": "ja", "多语种混合": "auto",
}
_FALLBACK_CUTS = {
    "不切": "cut0", "凑四句一切": "cut1", "凑50字一切": "cut2",
    "按中文句号。切": "cut3", "按英文句号.切": "cut4", "按标点符号切": "cut5",
}


def _with_codes(labels: dict[str, str]) -> dict[str, str]:
    """Label -> code, plus every code mapped to itself (both spellings are accepted)."""
    return {**labels, **{code: code for code in labels.values()}}


def _load() -> tuple[dict[str, str], dict[str, str]]:
    try:
        from GPT_SoVITS.text import languages as frontend  # written by the frontend's owner
    except ImportError:
        return _with_codes(_FALLBACK_LANGUAGES), _with_codes(_FALLBACK_CUTS)
    langs = getattr(frontend, "LANGUAGES", None) or getattr(frontend, "LANGUAGE_CODES", None)
    cuts = getattr(frontend, "CUT_METHODS", None) or getattr(frontend, "CUTS", None)
    return (_with_codes(dict(langs)) if langs else _with_codes(_FALLBACK_LANGUAGES),
            _with_codes(dict(cuts)) if cuts else _with_codes(_FALLBACK_CUTS))


LANGUAGES, CUT_METHODS = _load()


def language_code(value: str) -> str | None:
    return LANGUAGES.get(value)


def cut_code(value: str) -> str | None:
    return CUT_METHODS.get(value)
