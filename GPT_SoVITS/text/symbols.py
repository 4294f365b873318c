"""Phoneme symbol tables of the reference (v1: 322 symbols, v2: 732) and symbol -> id conversion.

A phoneme id is the index of the symbol in the table, so the order is part of every trained model:
v1 is the sorted set of Mandarin, Japanese, punctuation and ARPAbet symbols; v2 keeps that prefix
unchanged and appends the Japanese pitch marks, the Korean jamo and the Cantonese (jyutping) symbols.
"""
from __future__ import annotations

from typing import Iterable

# Punctuation that survives normalisation; "-" was added later and keeps its place after ".".
PUNCTUATION = ["!", "?", "…", ",", ".", "-"]
PAD = "_"
SILENCES = ["SP", "SP2", "SP3", "UNK"]

# Mandarin: initials (AA/EE/OO stand for the zero initial before a/e/o) and toneless finals.
ZH_INITIALS = (
    "AA EE OO b c ch d f g h j k l m n p q r s sh t w x y z zh"
).split()
ZH_FINALS = (
    "E En a ai an ang ao e ei en eng er i i0 ia ian iang iao ie in ing iong ir iu "
    "o ong ou u ua uai uan uang ui un uo v van ve vn"
).split()
ZH_TONES = "12345"

JA_PHONES = (
    "I N U a b by ch cl d dy e f g gy h hy i j k ky m my n ny o p py r ry s sh t ts u v w y z"
).split()

ARPABET = (
    "AA0 AA1 AA2 AE0 AE1 AE2 AH0 AH1 AH2 AO0 AO1 AO2 AW0 AW1 AW2 AY0 AY1 AY2 B CH D DH "
    "EH0 EH1 EH2 ER ER0 ER1 ER2 EY0 EY1 EY2 F G HH IH IH0 IH1 IH2 IY0 IY1 IY2 JH K L M N NG "
    "OW0 OW1 OW2 OY0 OY1 OY2 P R S SH T TH UH0 UH1 UH2 UW0 UW1 UW2 V W Y Z ZH"
).split()

# v2 additions, appended after the sorted v1 core.
JA_PITCH_MARKS = ["[", "]"]
KO_JAMO = "ㄱㄴㄷㄹㅁㅂㅅㅇㅈㅊㅋㅌㅍㅎㄲㄸㅃㅆㅉㅏㅓㅗㅜㅡㅣㅐㅔ空停"
# Cantonese symbols are "Y" + a jyutping part: initials without tone, a few finals both bare and
# with tones 1-6, and the other finals only with tones 1-6.
_YUE_BARE = "b c d f gw h j kw l ng s w z a aa ai ak au e g k m n o oi ok on ou p t uk".split()
_YUE_TONED = (
    "a aa aai aak aam aan aang aap aat aau ai ak am an ang ap at au e ei ek eng eoi eon eot g "
    "i ik im in ing ip it iu k m n o oe oek oeng oi ok on ong ot ou p t u ui uk un ung ut yu yun yut"
).split()
YUE_SYMBOLS = {"Y" + s for s in _YUE_BARE} | {f"Y{s}{t}" for s in _YUE_TONED for t in "123456"}


def _v1_table() -> list[str]:
    zh_finals = [f + t for t in ZH_TONES for f in ZH_FINALS]
    core = [PAD] + ZH_INITIALS + zh_finals + JA_PHONES + PUNCTUATION + SILENCES + ARPABET
    return sorted(set(core))


SYMBOLS_V1: list[str] = _v1_table()
SYMBOLS_V2: list[str] = SYMBOLS_V1 + JA_PITCH_MARKS + sorted(KO_JAMO) + sorted(YUE_SYMBOLS)

_IDS = {
    "v1": {s: i for i, s in enumerate(SYMBOLS_V1)},
    "v2": {s: i for i, s in enumerate(SYMBOLS_V2)},
}


def symbol_table(version: str) -> list[str]:
    """The table a model version uses: v1 for "v1", the v2 table for every later version."""
    return SYMBOLS_V1 if version == "v1" else SYMBOLS_V2


def cleaned_text_to_sequence(phones: Iterable[str], version: str = "v2") -> list[int]:
    """Phoneme symbols -> ids. An unknown symbol raises KeyError (clean_text maps those to UNK first)."""
    ids = _IDS["v1" if version == "v1" else "v2"]
    return [ids[p] for p in phones]
