"""Pinyin syllable -> (initial, final) phone pair, derived from the structure of pinyin.

The reference looks syllables up in a table (opencpop-strict); the table follows these spelling rules,
which a test checks line by line against the reference file:
- a syllable with no initial starting with a/e/o gets the pseudo-initial AA/EE/OO;
- y and w are written initials: yu/yv -> v (yuan -> van, yue -> ve, yun -> vn), yan -> En, ye -> E,
  yi/yin/ying keep i, and w drops nothing (wu -> u, wei -> ei);
- after j, q, x the written u is ü (v);
- the apical vowel i is "ir" after zh/ch/sh/r and "i0" after z/c/s.
"""
from __future__ import annotations

from .symbols import ZH_FINALS

_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h",
             "j", "q", "x", "r", "z", "c", "s", "y", "w")
_ZERO_INITIAL = {"a": "AA", "e": "EE", "o": "OO"}
_VALID_FINALS = set(ZH_FINALS)


def _split_initial(syllable: str) -> tuple[str, str]:
    for initial in _INITIALS:  # two-letter initials are listed first
        if syllable.startswith(initial) and len(syllable) > len(initial):
            return initial, syllable[len(initial):]
    return "", syllable


def _final_after(initial: str, rest: str) -> str:
    if initial in ("y", "j", "q", "x") and rest[0] in "uv":
        return "v" + rest[1:]
    if initial == "y":
        return {"an": "En", "e": "E"}.get(rest, rest)
    if rest == "i" and initial in ("zh", "ch", "sh", "r"):
        return "ir"
    if rest == "i" and initial in ("z", "c", "s"):
        return "i0"
    return rest


def pinyin_to_phones(syllable: str) -> tuple[str, str]:
    """A toneless pinyin syllable (ü written v) -> (initial phone, final phone), e.g. "zhi" -> ("zh", "ir").

    Raises ValueError for something that is not a Mandarin syllable (the reference fails an assert there).
    """
    initial, rest = _split_initial(syllable)
    if not initial:
        if syllable[:1] not in _ZERO_INITIAL:
            raise ValueError(f"not a pinyin syllable: {syllable!r}")
        initial, final = _ZERO_INITIAL[syllable[0]], syllable
    else:
        final = _final_after(initial, rest)
    if final not in _VALID_FINALS:
        raise ValueError(f"not a pinyin syllable: {syllable!r}")
    return initial, final


def spelled_syllable(initial: str, final: str) -> str:
    """pypinyin's (INITIALS, FINALS) pair -> the written syllable the table is keyed on.

    pypinyin gives the finals in their underlying form (uei, iou, uen, and i/u/v/in/ing with an empty
    initial), so the written y/w forms are restored here, as the reference does before its lookup.
    """
    if initial:
        return initial + {"uei": "ui", "iou": "iu", "uen": "un"}.get(final, final)
    whole = {"ing": "ying", "i": "yi", "in": "yin", "u": "wu"}.get(final)
    if whole:
        return whole
    head = {"v": "yu", "e": "e", "i": "y", "u": "w"}.get(final[:1])
    return head + final[1:] if head is not None else final
