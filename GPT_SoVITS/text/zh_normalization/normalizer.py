"""Chinese text normalisation (the reference's TextNormalizer): split into sentences, then read out
dates, times, ranges, units, arithmetic, fractions, percentages, phone numbers and plain numbers,
in this order (each step sees the output of the previous one)."""
from __future__ import annotations

import re

from . import chronology as ch, numbers as num, phonecode as tel, units
from .t2s import to_simplified

_SENTENCE_END = re.compile(r"([：、，；。？！,;?!][”’]?)")
_DROPPED_BEFORE_SPLIT = re.compile(r"[——《》【】<>{}()（）#&@“”^_|\\]")
_DROPPED_AFTER = re.compile(r"[-——《》【】<=>{}()（）#&@“”^_|\\]")
_FULLWIDTH = {ord(c) + 0xFEE0: ord(c) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}
_FULLWIDTH[0x3000] = ord(" ")
_SYMBOL_WORDS = {
    "/": "每", "①": "一", "②": "二", "③": "三", "④": "四", "⑤": "五", "⑥": "六", "⑦": "七",
    "⑧": "八", "⑨": "九", "⑩": "十", "α": "阿尔法", "β": "贝塔", "γ": "伽玛", "Γ": "伽玛",
    "δ": "德尔塔", "Δ": "德尔塔", "ε": "艾普西龙", "ζ": "捷塔", "η": "依塔", "θ": "西塔", "Θ": "西塔",
    "ι": "艾欧塔", "κ": "喀帕", "λ": "拉姆达", "Λ": "拉姆达", "μ": "缪", "ν": "拗", "ξ": "克西",
    "Ξ": "克西", "ο": "欧米克伦", "π": "派", "Π": "派", "ρ": "肉", "ς": "西格玛", "Σ": "西格玛",
    "σ": "西格玛", "τ": "套", "υ": "宇普西龙", "φ": "服艾", "Φ": "服艾", "χ": "器", "ψ": "普赛",
    "Ψ": "普赛", "ω": "欧米伽", "Ω": "欧米伽",
    # Left-over arithmetic signs (after the number rules): 加, 减, 乘, 除, 等.
    "+": "加", "-": "减", "×": "乘", "÷": "除", "=": "等",
}
_SYMBOLS = re.compile("|".join(re.escape(s) for s in _SYMBOL_WORDS))

# (pattern, replacement) in the reference's order; units and arithmetic are handled in between.
_BEFORE_UNITS = [
    (ch.RE_DATE, ch.date_match),
    (ch.RE_DATE_NUMERIC, ch.numeric_date_match),
    (ch.RE_TIME_RANGE, ch.time_match),
    (ch.RE_TIME, ch.time_match),
    (units.RE_UNIT_RANGE, units.unit_range_match),
    (units.RE_TEMPERATURE, units.temperature_match),
]
_AFTER_ARITHMETIC = [
    (num.RE_POWER, num.power_match),
    (num.RE_FRACTION, num.fraction_match),
    (num.RE_PERCENT, num.percent_match),
    (tel.RE_MOBILE, tel.mobile_match),
    (tel.RE_LANDLINE, tel.landline_match),
    (tel.RE_SERVICE_NUMBER, tel.landline_match),
    (num.RE_RANGE, num.range_match),
    (num.RE_NEGATIVE_INTEGER, num.negative_integer_match),
    (num.RE_VERSION, num.version_match),
    (num.RE_DECIMAL, num.number_match),
    (num.RE_QUANTITY, num.quantity_match),
    (num.RE_DIGIT_RUN, num.digit_run_match),
    (num.RE_NUMBER, num.number_match),
]


def split_sentences(text: str) -> list[str]:
    """Drop spaces and bracket-like symbols, then cut after each sentence or clause mark."""
    text = _DROPPED_BEFORE_SPLIT.sub("", text.replace(" ", ""))
    text = _SENTENCE_END.sub("\\1\n", text).strip()
    return [s.strip() for s in re.split(r"\n+", text)]


def normalize_sentence(sentence: str) -> str:
    sentence = to_simplified(sentence).translate(_FULLWIDTH)
    for pattern, replace in _BEFORE_UNITS:
        sentence = pattern.sub(replace, sentence)
    sentence = units.replace_measures(sentence)
    while num.RE_ARITHMETIC.search(sentence):
        sentence = num.RE_ARITHMETIC.sub(num.arithmetic_match, sentence)
    for pattern, replace in _AFTER_ARITHMETIC:
        sentence = pattern.sub(replace, sentence)
    sentence = _SYMBOLS.sub(lambda m: _SYMBOL_WORDS[m.group(0)], sentence)
    return _DROPPED_AFTER.sub("", sentence)


def normalize(text: str) -> list[str]:
    return [normalize_sentence(s) for s in split_sentences(text)]
