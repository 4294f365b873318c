"""Temperatures, measurement units and unit ranges: 25°C -> 二十五度, 3kg -> 3千克 (the number is read later)."""
from __future__ import annotations

import re

from .numbers import read_number

RE_TEMPERATURE = re.compile(r"(-?)(\d+(?:\.\d+)?)(°C|℃|度|摄氏度)")
# Replaced as plain substrings in this order, so "cm2" wins over "cm" and "m" catches what is left.
MEASURES = {
    "cm2": "平方厘米", "cm²": "平方厘米", "cm3": "立方厘米", "cm³": "立方厘米", "cm": "厘米",
    "db": "分贝", "ds": "毫秒", "kg": "千克", "km": "千米", "m2": "平方米", "m²": "平方米",
    "m³": "立方米", "m3": "立方米", "ml": "毫升", "m": "米", "mm": "毫米", "s": "秒",
}
_UNIT = "(?:%|°C|℃|度|摄氏度|cm2|cm²|cm3|cm³|cm|db|ds|kg|km|m2|m²|m³|m3|ml|m|mm|s)"
_VALUE = r"(?:-?\d+(?:\.\d+)?|\.\d+)"
# "10%~20%": the tilde between two measured values reads 至.
RE_UNIT_RANGE = re.compile(_VALUE + _UNIT + "~" + _VALUE + _UNIT)


def temperature_match(m: re.Match) -> str:
    below = "零下" if m.group(1) else ""
    unit = "摄氏度" if m.group(3) == "摄氏度" else "度"
    return f"{below}{read_number(m.group(2))}{unit}"


def unit_range_match(m: re.Match) -> str:
    return m.group(0).replace("~", "至")


def replace_measures(sentence: str) -> str:
    for unit, words in MEASURES.items():
        sentence = sentence.replace(unit, words)
    return sentence
