"""Text in a language mode -> phoneme ids per language segment (the reference's get_phones_and_bert,
without computing BERT: the pipeline computes BERT features for each Chinese segment from `norm_text`
and `word2ph`, and zeros for the others)."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from .cleaner import clean_text
from .lang_split import split_languages
from .languages import to_mode
from .symbols import cleaned_text_to_sequence

MIN_PHONES = 6  # fewer than this and the reference retries with "." in front


@dataclass(frozen=True)
class Segment:
    lang: str  # zh, ja or en
    text: str  # the piece of input text
    norm_text: str
    phones: list[str]
    phone_ids: list[int]
    word2ph: list[int] | None  # per norm_text character, Chinese only


@dataclass(frozen=True)
class Phones:
    text: str  # the text of the final attempt (with the "." when retried)
    segments: list[Segment]
    retried_with_dot: bool

    @property
    def phone_ids(self) -> list[int]:
        return [i for s in self.segments for i in s.phone_ids]

    @property
    def phones(self) -> list[str]:
        return [p for s in self.segments for p in s.phones]

    @property
    def norm_text(self) -> str:
        return "".join(s.norm_text for s in self.segments)


def split_by_mode(text: str, mode: str) -> list[tuple[str, str]]:
    """(lang, text) pieces for a mode, as the reference routes them."""
    if mode == "en":
        return [("en", text)]
    if mode in ("all_zh", "all_ja"):
        return [(p["lang"], p["text"]) for p in split_languages(text, mode[-2:])]
    if mode == "auto":
        return [(p["lang"], p["text"]) for p in split_languages(text)]
    # zh / ja: English stays English, every other run is read in the chosen language.
    pieces: list[tuple[str, str]] = []
    for p in split_languages(text):
        lang = "en" if p["lang"] == "en" else mode
        if pieces and (lang == "en") == (pieces[-1][0] == "en"):
            pieces[-1] = (pieces[-1][0], pieces[-1][1] + p["text"])
        else:
            pieces.append((lang, p["text"]))
    return pieces


def _segment(lang: str, text: str, version: str) -> Segment:
    phones, word2ph, norm_text = clean_text(text, lang, version)
    return Segment(lang, text, norm_text, phones, cleaned_text_to_sequence(phones, version), word2ph)


# The frontend's libraries (pyopenjtalk's one OpenJTalk instance, jieba's and g2p_en's lazy loading) are not
# known to be thread-safe, and callers run it outside the models' lock: one text at a time. Whoever calls
# `clean_text` directly takes it too.
FRONTEND_LOCK = threading.RLock()


def get_phones(text: str, mode: str, version: str = "v2") -> Phones:
    """The segments of the reference's get_phones_and_bert(text, mode, version), final attempt."""
    with FRONTEND_LOCK:
        return _get_phones(text, mode, version)


def _get_phones(text: str, mode: str, version: str) -> Phones:
    mode = to_mode(mode)
    text = re.sub(r" {2,}", " ", text)
    segments = [_segment(lang, piece, version) for lang, piece in split_by_mode(text, mode)]
    if sum(len(s.phone_ids) for s in segments) < MIN_PHONES:
        # Too short to synthesise well: the reference tries once more with a leading ".".
        text = re.sub(r" {2,}", " ", "." + text)
        segments = [_segment(lang, piece, version) for lang, piece in split_by_mode(text, mode)]
        return Phones(text, segments, retried_with_dot=True)
    return Phones(text, segments, retried_with_dot=False)
