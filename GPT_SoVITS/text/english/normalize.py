"""English text normalisation: numbers, money, times, units and symbols spelled out as words.

Behaviour follows the reference (`text/english.py` `text_normalize` and `text/en_normalization/expend.py`),
including its quirks, because the phonemes the models were trained on came out of exactly this:

* the punctuation map's keys are regex-like strings that the reference passes through `re.escape`, so
  `;`, `:`, `，`, `；` and `：` are *not* turned into commas; they are deleted later ("Yes，sir" -> "Yessir");
* the negative-number rule swallows the whitespace before the minus ("at -5" -> "atnegative five");
* upper-case letters inside a word are split off ("PDF" -> "P D F", "iOS" -> "i O S").
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from ..symbols import PUNCTUATION


@lru_cache(maxsize=1)
def _words():
    """inflect's engine, imported on first use: its import alone takes seconds (typeguard)."""
    import inflect

    return inflect.engine()

# Keys are matched literally (the reference escapes them), so only the one-character keys ever fire.
_REP_MAP = {"[;:：，；]": ",", '["’]': "'", "。": ".", "！": "!", "？": "?"}
_REP_RE = re.compile("|".join(re.escape(key) for key in _REP_MAP))

_UNITS = {  # suffix -> (singular, plural)
    "m": ("meter", "meters"),
    "km": ("kilometer", "kilometers"),
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "ft": ("feet", "feet"),
    "L": ("liter", "liters"),
    "tbsp": ("tablespoon", "tablespoons"),
    "tsp": ("teaspoon", "teaspoons"),
    "h": ("hour", "hours"),
    "min": ("minute", "minutes"),
    "s": ("second", "seconds"),
    "°C": ("degree celsius", "degrees celsius"),
    "°F": ("degree fahrenheit", "degrees fahrenheit"),
}

_ORDINAL_LIST_RE = re.compile(r"\b([0-9]+)\. ")  # "1. " as in an enumerated list
_COMMA_NUMBER_RE = re.compile(r"([0-9][0-9\,]+[0-9])")
_TIME_RE = re.compile(r"\b([01]?[0-9]|2[0-3]):([0-5][0-9])\b")
_MEASUREMENT_RE = re.compile(r"\b([0-9]+(\.[0-9]+)?(m|km|km/h|ft|L|tbsp|tsp|h|min|s|°C|°F))\b")
_POUNDS_BEFORE_RE = re.compile(r"£([0-9\.\,]*[0-9]+)")
_POUNDS_AFTER_RE = re.compile(r"([0-9\.\,]*[0-9]+)£")
_DOLLARS_BEFORE_RE = re.compile(r"\$([0-9\.\,]*[0-9]+)")
_DOLLARS_AFTER_RE = re.compile(r"([(0-9\.\,]*[0-9]+)\$")  # the stray "(" is the reference's
_DECIMAL_RE = re.compile(r"([0-9]+\.\s*[0-9]+)")
_FRACTION_RE = re.compile(r"([0-9]+/[0-9]+)")
_ORDINAL_RE = re.compile(r"[0-9]+(st|nd|rd|th)")
_NUMBER_RE = re.compile(r"[0-9]+")

# "a + b", "x = 2": an operand, a spaced operator, an operand. Group 1 is the left operand,
# group 8 the operator, group 9 the right operand.
_SUPERSCRIPTS = "[⁰¹²³⁴⁵⁶⁷⁸⁹ˣʸⁿ]*"
_OPERAND = rf"((-?)((\d+)(\.\d+)?{_SUPERSCRIPTS})|(\.\d+{_SUPERSCRIPTS})|([A-Za-z]{_SUPERSCRIPTS}))"
_ARITHMETIC_RE = re.compile(_OPERAND + r"\s+([\+\-\×÷=])\s+" + _OPERAND)
_OPERATOR_WORDS = {"+": " plus ", "-": " minus ", "×": " times ", "÷": " divided by ", "=": " Equals "}
_NEGATIVE_RE = re.compile(r"(?:^|\s+)(-)(\d+)")


def _list_ordinal(m: re.Match) -> str:
    return _words().ordinal(m.group(1)) + ", "  # "1. " -> "1st, ", spelled out by _ORDINAL_RE


def _arithmetic(m: re.Match) -> str:
    return m.group(1) + _OPERATOR_WORDS[m.group(8)] + m.group(9)


def _negative(m: re.Match) -> str:
    return f"negative {m.group(2)}"


def _time(m: re.Match) -> str:
    hours, minutes = int(m.group(1)), int(m.group(2))
    period = "a.m." if hours < 12 else "p.m."
    if hours > 12:
        hours -= 12
    hour_words = _words().number_to_words(hours)
    if minutes == 0:
        return f"{hour_words} o'clock {period}"
    return f"{hour_words} {_words().number_to_words(minutes)} {period}"


def _measurement(m: re.Match) -> str:
    unit = m.group(3)
    # The reference drops the decimal point to get a number; only an integer 1 takes the singular.
    number = int(m.group(1).replace(unit, "").replace(".", ""))
    singular = m.group(2) is None and number == 1
    return m.group(1).replace(unit, " " + _UNITS[unit][0 if singular else 1])


def _money(amount: str, major: tuple[str, str], minor: tuple[str, str]) -> str:
    """"25.50" -> "25 dollars and 50 cents" (digits are spelled out later by _NUMBER_RE)."""
    parts = amount.split(".")
    if len(parts) > 2:
        return amount + " " + major[1]
    whole = int(parts[0]) if parts[0] else 0
    cents = int(parts[1].ljust(2, "0")) if len(parts) > 1 and parts[1] else 0
    whole_words = f"{whole} {major[0] if whole == 1 else major[1]}"
    cent_words = f"{cents} {minor[0] if cents == 1 else minor[1]}"
    if whole and cents:
        return f"{whole_words} and {cent_words}"
    if whole:
        return whole_words
    if cents:
        return cent_words
    return "zero " + major[1]


def _pounds(m: re.Match) -> str:
    return _money(m.group(1), ("pound", "pounds"), ("penny", "pence"))


def _dollars(m: re.Match) -> str:
    return _money(m.group(1), ("dollar", "dollars"), ("cent", "cents"))


def _decimal(m: re.Match) -> str:
    whole, fraction = m.group(1).split(".")[:2]
    return whole + " point " + " ".join(fraction)  # digits one by one: "3.14" -> "3 point 1 4"


def _fraction(m: re.Match) -> str:
    numerator, denominator = map(int, m.group(0).split("/"))
    numerator_words = _words().number_to_words(numerator)
    if denominator == 1:
        return numerator_words
    if denominator == 2:
        return f"{numerator_words} {'half' if numerator == 1 else 'halves'}"
    denominator_words = _words().ordinal(_words().number_to_words(denominator))
    return f"{numerator_words} {denominator_words}{'s' if numerator > 1 else ''}"


def _ordinal(m: re.Match) -> str:
    return _words().number_to_words(m.group(0))


def _number(m: re.Match) -> str:
    number = int(m.group(0))
    if not 1000 < number < 3000:
        return _words().number_to_words(number, andword="")
    # Years are read in pairs ("nineteen eighty-four"), except the 2000s.
    if number == 2000:
        return "two thousand"
    if 2000 < number < 2010:
        return "two thousand " + _words().number_to_words(number % 100)
    if number % 100 == 0:
        return _words().number_to_words(number // 100) + " hundred"
    return _words().number_to_words(number, andword="", zero="oh", group=2).replace(", ", " ")


def expand(text: str) -> str:
    """Spell out numbers, amounts and symbols; keep only letters, spaces and ' . , ? ! -."""
    text = _ORDINAL_LIST_RE.sub(_list_ordinal, text)
    while _ARITHMETIC_RE.search(text):
        text = _ARITHMETIC_RE.sub(_arithmetic, text)
    text = _NEGATIVE_RE.sub(_negative, text)
    text = _COMMA_NUMBER_RE.sub(lambda m: m.group(1).replace(",", ""), text)
    for pattern, spell in [
        (_TIME_RE, _time),
        (_MEASUREMENT_RE, _measurement),
        (_POUNDS_BEFORE_RE, _pounds),
        (_POUNDS_AFTER_RE, _pounds),
        (_DOLLARS_BEFORE_RE, _dollars),
        (_DOLLARS_AFTER_RE, _dollars),
        (_DECIMAL_RE, _decimal),
        (_FRACTION_RE, _fraction),
        (_ORDINAL_RE, _ordinal),
        (_NUMBER_RE, _number),
    ]:
        text = pattern.sub(spell, text)
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    text = text.replace("%", " percent")
    text = re.sub(r"[^ A-Za-z'.,?!\-]", "", text)
    text = re.sub(r"(?i)i\.e\.", "that is", text)
    text = re.sub(r"(?i)e\.g\.", "for example", text)
    # Capitals inside a word are read letter by letter: "PDF" -> "P D F".
    return re.sub(r"(?<!^)(?<![\s])([A-Z])", r" \1", text)


def collapse_punctuation(text: str) -> str:
    """Keep the first of a run of punctuation (after punctuation or a space), so "..." -> "."."""
    marks = "".join(re.escape(p) for p in PUNCTUATION)
    return re.sub(f"([{marks}\\s])([{marks}])+", r"\1", text)


def text_normalize(text: str) -> str:
    text = _REP_RE.sub(lambda m: _REP_MAP[m.group()], text)
    return collapse_punctuation(expand(text))
