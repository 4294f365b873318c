"""Dates and clock times read aloud: 2024年5月1日 -> 二零二四年五月一日, 14:30 -> 十四点半."""
from __future__ import annotations

import re

from .numbers import DIGITS, read_cardinal, read_digits, read_number

_CLOCK = r"([0-1]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?"
RE_TIME = re.compile(_CLOCK)
RE_TIME_RANGE = re.compile(_CLOCK + r"(?:~|-)" + _CLOCK)
RE_DATE = re.compile(r"(\d{4}|\d{2})年(?:(0?[1-9]|1[0-2])月)?(?:((?:0?[1-9])|(?:[12][0-9])|30|31)([日号]))?")
RE_DATE_NUMERIC = re.compile(r"(\d{4})([- /.])(0[1-9]|1[012])\2(0[1-9]|[12][0-9]|3[01])")


def _minutes_or_seconds(digits: str) -> str:
    # A leading zero is read: 08 -> 零八.
    text = read_number(digits.lstrip("0"))
    return DIGITS[0] + text if digits.startswith("0") else text


def _clock(hour: str, minute: str, second: str | None, half_if: str) -> str:
    text = f"{read_number(hour)}点"
    if minute.lstrip("0"):
        # The reference decides "半" for the end of a range from the *start* minute; kept as is.
        text += "半" if int(half_if) == 30 else f"{_minutes_or_seconds(minute)}分"
    if second and second.lstrip("0"):
        text += f"{_minutes_or_seconds(second)}秒"
    return text


def time_match(m: re.Match) -> str:
    text = _clock(m.group(1), m.group(2), m.group(3), m.group(2))
    if m.re is RE_TIME_RANGE:
        text += "至" + _clock(m.group(4), m.group(5), m.group(6), m.group(2))
    return text


def date_match(m: re.Match) -> str:
    year, month, day, day_word = m.groups()
    text = f"{read_digits(year)}年"
    if month:
        text += f"{read_cardinal(month)}月"
    if day:
        text += f"{read_cardinal(day)}{day_word}"
    return text


def numeric_date_match(m: re.Match) -> str:
    year, _, month, day = m.groups()
    return f"{read_digits(year)}年{read_cardinal(month)}月{read_cardinal(day)}日"
