"""Language modes of the reference (all_zh, zh, all_ja, ja, en, auto) and the service's labels for them."""
from __future__ import annotations

# all_zh / all_ja: everything not Latin-script is read as Chinese / Japanese.
# zh / ja: mixed with English (Han characters are read in the chosen language).
# en: the whole text as English, no language detection. auto: each piece as detected.
MODES = ("all_zh", "zh", "all_ja", "ja", "en", "auto")

# The labels users pick in the original service (and the reference's web UI) -> mode.
LABEL_TO_MODE = {
    "中文": "all_zh",
    "英文": "en",
    "日文": "all_ja",
    "中英混合": "zh",
    "日英混合": "ja",
    "多语种混合": "auto",
}


def to_mode(language: str) -> str:
    """A mode or a label -> the mode. Raises ValueError naming the accepted values."""
    language = language.strip() if isinstance(language, str) else language
    if language in MODES:
        return language
    if language in LABEL_TO_MODE:
        return LABEL_TO_MODE[language]
    accepted = ", ".join(list(MODES) + list(LABEL_TO_MODE))
    raise ValueError(f"unknown language {language!r}; use one of: {accepted}")
