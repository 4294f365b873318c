"""Step 1 (prepare_datasets/1-get-text.py): a transcript -> phoneme ids, word2ph, normalised text and
BERT features, with the same frontend calls and BERT back end as synthesis (`clean_text`,
`cleaned_text_to_sequence`, `TextFeatureModel.features`), so a clip's features equal what the
inference path computes for the same text in that language.

Before that, the transcript's language is checked against its label with the project's language
detection (`GPT_SoVITS.text.lang_split`): a clip labelled zh whose text is English would otherwise
train on empty or wrong phonemes (the Chinese frontend drops Latin letters).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from GPT_SoVITS.models.backends import TextFeatureModel

from .errors import ClipError

# The detected languages whose letters count for a label: Japanese written in kanji only reads as Chinese.
ACCEPTED_DETECTIONS = {"zh": {"zh"}, "ja": {"ja", "zh"}, "en": {"en"}}
MIN_LABELLED_SHARE = 0.5  # at least half the letters must be of the labelled language
LANGUAGE_NAMES = {"zh": ("中文", "Chinese"), "ja": ("日文", "Japanese"), "en": ("英文", "English")}


@dataclass(frozen=True)
class ClipText:
    phones: np.ndarray  # int64 [N]
    word2ph: np.ndarray  # int64 [characters] (Chinese; empty for other languages, which have none)
    norm_text: str
    bert: np.ndarray  # float32 [1024, N]


def reference_text(text: str) -> str:
    """1-get-text.py's substitutions before cleaning."""
    return text.replace("%", "-").replace("￥", ",")


def labelled_share(text: str, language: str) -> float:
    """The share of the letters of `text` that language detection puts in `language` (1.0 with no letters)."""
    from GPT_SoVITS.text.lang_split import split_languages

    counts: dict[str, int] = {}
    for piece in split_languages(text):
        counts[piece["lang"]] = counts.get(piece["lang"], 0) + sum(ch.isalpha() for ch in piece["text"])
    total = sum(counts.values())
    if total == 0:
        return 1.0
    return sum(n for lang, n in counts.items() if lang in ACCEPTED_DETECTIONS[language]) / total


def check_language(text: str, language: str, name: str) -> None:
    share = labelled_share(text, language)
    if share < MIN_LABELLED_SHARE:
        zh, en = LANGUAGE_NAMES[language]
        raise ClipError(name, f"转写标注为{zh}，但检测到大部分文字不是{zh}（{share:.0%}）：{text!r}",
                        f"the transcript is labelled {en} but most of it is not ({share:.0%} {en}): {text!r}")


def clip_text(bert: TextFeatureModel, text: str, language: str, symbols: str, name: str) -> ClipText:
    """Phonemes and BERT features of one transcript (`symbols`: the model version's symbol set)."""
    from GPT_SoVITS.text.cleaner import clean_text
    from GPT_SoVITS.text.routing import FRONTEND_LOCK
    from GPT_SoVITS.text.symbols import cleaned_text_to_sequence

    check_language(text, language, name)
    try:
        with FRONTEND_LOCK:  # the service may be synthesising meanwhile
            phones, word2ph, norm_text = clean_text(reference_text(text), language, symbols)
        ids = cleaned_text_to_sequence(phones, symbols)
    except Exception as exc:  # the frontend's failures on odd text are the transcript's
        raise ClipError(name, f"文本处理失败：{exc}", f"the text frontend failed on {text!r}: {exc}") from exc
    if not ids:
        raise ClipError(name, "转写没有可发音的内容", f"nothing pronounceable in {text!r}")
    try:
        features = bert.features(language, norm_text, word2ph, len(ids))
    except ValueError as exc:  # too long for BERT (TextTooLongError), or a tokenizer mismatch
        raise ClipError(name, f"BERT 特征失败：{exc}", f"BERT features failed: {exc}") from exc
    return ClipText(phones=np.asarray(ids, np.int64), word2ph=np.asarray(word2ph or [], np.int64),
                    norm_text=norm_text, bert=np.asarray(features, np.float32))
