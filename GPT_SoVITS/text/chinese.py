"""Mandarin: normalised text and phonemes, as the reference's chinese.py (v1) and chinese2.py (v2).

v2 here is chinese2's pypinyin branch (g2pw off): jieba words -> pypinyin initials/finals -> tone sandhi
-> erhua. v1 is the same without the erhua step. Each syllable gives two phones (initial, final+tone)
and punctuation one, so word2ph[i] is the phone count of norm_text[i].
"""
from __future__ import annotations

import functools
import logging
import re

from pypinyin import Style, lazy_pinyin

from . import tone_sandhi
from .symbols import PUNCTUATION
from .zh_normalization import normalize
from .zh_pinyin import pinyin_to_phones, spelled_syllable

_PUNCTUATION_MAP = {
    "：": ",", "；": ",", "，": ",", "。": ".", "！": "!", "？": "?", "\n": ".", "·": ",", "、": ",",
    "...": "…", "$": ".", "/": ",", "—": "-", "~": "…", "～": "…",
}
_PUNCTUATION_RE = re.compile("|".join(re.escape(p) for p in _PUNCTUATION_MAP))
_PUNCT_CLASS = "".join(re.escape(p) for p in PUNCTUATION)
_NOT_HANZI_OR_PUNCT = re.compile(rf"[^\u4e00-\u9fa5{_PUNCT_CLASS}]+")
_REPEATED_PUNCT = re.compile(rf"([{_PUNCT_CLASS}])([{_PUNCT_CLASS}])+")
_AFTER_PUNCT = re.compile(rf"(?<=[{_PUNCT_CLASS}])\s*")

# Erhua (v2): 儿 takes the tone of the syllable before it, except in these words and for some POS.
MUST_ERHUA = set("小院儿 胡同儿 范儿 老汉儿 撒欢儿 寻老礼儿 妥妥儿 媳妇儿".split())
NOT_ERHUA = set("""
虐儿 为儿 护儿 瞒儿 救儿 替儿 有儿 一儿 我儿 俺儿 妻儿 拐儿 聋儿 乞儿 患儿 幼儿 孤儿 婴儿 婴幼儿 连体儿 脑瘫儿 流浪儿
体弱儿 混血儿 蜜雪儿 舫儿 祖儿 美儿 应采儿 可儿 侄儿 孙儿 侄孙儿 女儿 男儿 红孩儿 花儿 虫儿 马儿 鸟儿 猪儿 猫儿 狗儿 少儿
""".split())


@functools.lru_cache(maxsize=1)
def _posseg():
    """jieba_fast's part-of-speech cutter; its dictionary loads once, on first use."""
    import jieba_fast
    import jieba_fast.posseg

    jieba_fast.setLogLevel(logging.CRITICAL)
    return jieba_fast.posseg


def replace_punctuation(text: str) -> str:
    text = text.replace("嗯", "恩").replace("呣", "母")
    text = _PUNCTUATION_RE.sub(lambda m: _PUNCTUATION_MAP[m.group(0)], text)
    return _NOT_HANZI_OR_PUNCT.sub("", text)


def text_normalize(text: str) -> str:
    """Numbers etc. read out, punctuation mapped to , . ! ? … -, everything but hanzi dropped."""
    text = "".join(replace_punctuation(sentence) for sentence in normalize(text))
    return _REPEATED_PUNCT.sub(r"\1", text)  # a run of marks keeps its first one


def _merge_erhua(initials: list[str], finals: list[str], word: str, pos: str):
    if finals and word[len(finals) - 1] == "儿" and finals[-1] == "er1":
        finals[-1] = "er2"
    if word not in MUST_ERHUA and (word in NOT_ERHUA or pos in {"a", "j", "nr"}):
        return initials, finals
    if len(finals) != len(word):
        return initials, finals
    if len(word) > 1 and word[-1] == "儿" and finals[-1] in {"er2", "er5"} and word[-2:] not in NOT_ERHUA:
        finals[-1] = "er" + finals[-2][-1]
    return initials, finals


def _syllables(sentence: str, erhua: bool) -> tuple[list[str], list[str]]:
    initials: list[str] = []
    finals: list[str] = []
    words = tone_sandhi.pre_merge_for_modify(_posseg().lcut(sentence))
    for word, pos in words:
        if pos == "eng":
            continue
        word_initials = lazy_pinyin(word, neutral_tone_with_five=True, style=Style.INITIALS)
        word_finals = lazy_pinyin(word, neutral_tone_with_five=True, style=Style.FINALS_TONE3)
        word_finals = tone_sandhi.modified_tone(word, pos, word_finals)
        if erhua:
            word_initials, word_finals = _merge_erhua(word_initials, word_finals, word, pos)
        initials += word_initials
        finals += word_finals
    return initials, finals


def g2p(norm_text: str, version: str = "v2") -> tuple[list[str], list[int]]:
    """Normalised text -> (phones, word2ph). v1 skips erhua, as the reference's chinese.py."""
    phones: list[str] = []
    word2ph: list[int] = []
    sentences = [s for s in _AFTER_PUNCT.split(norm_text) if s.strip()]
    for sentence in sentences:
        sentence = re.sub("[a-zA-Z]+", "", sentence)
        for initial, final in zip(*_syllables(sentence, erhua=version != "v1")):
            if initial == final:  # pypinyin passes punctuation through unchanged
                if initial not in PUNCTUATION:
                    raise ValueError(f"no pinyin for {initial!r} in {sentence!r}")
                phones.append(initial)
                word2ph.append(1)
                continue
            tone = final[-1]
            if tone not in "12345":
                raise ValueError(f"no tone in pinyin {initial + final!r} in {sentence!r}")
            consonant, vowel = pinyin_to_phones(spelled_syllable(initial, final[:-1]))
            phones += [consonant, vowel + tone]
            word2ph.append(2)
    return phones, word2ph
