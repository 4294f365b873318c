"""Reading numbers aloud in Chinese: cardinals, digit strings, decimals, fractions, ranges, quantities.

Behaviour follows the reference's zh_normalization (from PaddleSpeech), quirks included:
"3.20" reads 三点二零 (a trailing zero run collapses to one 零), "1.0.3" reads digit by digit,
and runs of 3+ digits with no other context are read digit by digit with 一 as 幺.
"""
from __future__ import annotations

import re

DIGITS = "零一二三四五六七八九"
# Place names by the number of digits they follow; 万 and 亿 take groups of 4 and 8.
_PLACES = ((8, "亿"), (4, "万"), (3, "千"), (2, "百"), (1, "十"))

# Measure words (and measured units) after which a number counts things: "2个" -> 两个.
_QUANTIFIER_WORDS = (
    "处 台 架 枚 趟 幅 平 方 堵 间 床 株 批 项 例 列 篇 栋 注 亩 封 艘 把 目 套 段 人 所 朵 匹 张 座 回 场 尾 "
    "条 个 首 阙 阵 网 炮 顶 丘 棵 只 支 袭 辆 挑 担 颗 壳 窠 曲 墙 群 腔 砣 客 贯 扎 捆 刀 令 打 手 罗 坡 山 "
    "岭 江 溪 钟 队 单 双 对 出 口 头 脚 板 跳 枝 件 贴 针 线 管 名 位 身 堂 课 本 页 家 户 层 丝 毫 厘 分 钱 "
    "两 斤 铢 石 钧 锱 忽 千克 毫克 微克 公分 寸 尺 丈 里 寻 常 铺 程 千米 分米 厘米 毫米 微米 米 撮 勺 合 "
    "升 斗 盘 碗 碟 叠 桶 笼 盆 盒 杯 斛 锅 簋 篮 罐 瓶 壶 卮 盏 箩 箱 煲 啖 袋 钵 年 月 日 季 刻 时 周 天 "
    "秒 小时 旬 纪 岁 世 更 夜 春 夏 秋 冬 代 伏 辈 丸 泡 粒 幢 堆 根 道 面 片 块 元 亿 千万 百万 万 千 百 "
    "美元 十吨 吨 角 毛"
).split()
QUANTIFIERS = "(?:" + "|".join(sorted(_QUANTIFIER_WORDS, key=len, reverse=True)) + ")"


def read_digits(digits: str, alt_one: bool = False) -> str:
    """Digit by digit: "110" -> 一一零, or 幺幺零 with alt_one (phone numbers)."""
    text = "".join(DIGITS[int(d)] for d in digits)
    return text.replace("一", "幺") if alt_one else text


def _read_places(digits: str) -> list[str]:
    significant = digits.lstrip("0")
    if not significant:
        return []
    if len(significant) == 1:
        # A zero skipped before a single digit is read: 105 -> 一百零五.
        prefix = [DIGITS[0]] if len(significant) < len(digits) else []
        return prefix + [DIGITS[int(significant)]]
    size, name = next((n, name) for n, name in _PLACES if n < len(significant))
    return _read_places(digits[:-size]) + [name] + _read_places(digits[-size:])


def read_cardinal(digits: str) -> str:
    """An integer digit string as a number: "1024" -> 一千零二十四, "15" -> 十五, "000" -> 零."""
    if not digits:
        return ""
    digits = digits.lstrip("0")
    if not digits:
        return DIGITS[0]
    words = _read_places(digits)
    if words[:2] == [DIGITS[1], "十"]:  # 一十五 is said 十五
        words = words[1:]
    return "".join(words)


def read_number(number: str) -> str:
    """An unsigned decimal string: "3.14" -> 三点一四, ".5" -> 零点五, "3.20" -> 三点二零."""
    parts = number.split(".")
    if len(parts) > 2:
        raise ValueError(f"the number {number!r} has more than one decimal point")
    integer, fraction = parts if len(parts) == 2 else (parts[0], "")
    text = read_cardinal(integer)
    fraction = fraction.rstrip("0") + "0" if fraction.endswith("0") else fraction
    if fraction:
        text = (text or DIGITS[0]) + "点" + read_digits(fraction)
    return text


def _signed(sign: str, number: str) -> str:
    return ("负" if sign else "") + read_number(number)


RE_FRACTION = re.compile(r"(-?)(\d+)/(\d+)")
RE_PERCENT = re.compile(r"(-?)(\d+(?:\.\d+)?)%")
RE_NEGATIVE_INTEGER = re.compile(r"(-)(\d+)")
RE_DIGIT_RUN = re.compile(r"\d{3}\d*")
RE_VERSION = re.compile(r"\d+(?:\.\d+){2,}")
RE_DECIMAL = re.compile(r"(-?)(\d+\.\d+)|(\.\d+)")
RE_QUANTITY = re.compile(r"(\d+)([多余几+])?(" + QUANTIFIERS + ")")
RE_NUMBER = re.compile(r"(-?)(\d+(?:\.\d+)?)|(\.\d+)")
# A range a-b or a~b with no arithmetic around it: "3-5" -> 三到五.
RE_RANGE = re.compile(r"(?<![\d+\-×÷=])(-?\d+(?:\.\d+)?)[-~](-?\d+(?:\.\d+)?)(?![\d+\-×÷=])")
# Arithmetic between operands (numbers, decimals or single letters, with superscripts).
_OPERAND = r"-?\d+(?:\.\d+)?[⁰¹²³⁴⁵⁶⁷⁸⁹ˣʸⁿ]*|\.\d+[⁰¹²³⁴⁵⁶⁷⁸⁹ˣʸⁿ]*|[A-Za-z][⁰¹²³⁴⁵⁶⁷⁸⁹ˣʸⁿ]*"
RE_ARITHMETIC = re.compile(rf"({_OPERAND})([+\-×÷=])({_OPERAND})")
_OPERATORS = {"+": "加", "-": "减", "×": "乘", "÷": "除", "=": "等于"}
RE_POWER = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹ˣʸⁿ]+")
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹ˣʸⁿ", "0123456789xyn")


def number_match(m: re.Match) -> str:
    """For RE_NUMBER / RE_DECIMAL: group 3 is a bare fraction ".5", read 零点五 and never negative."""
    return read_number(m.group(3)) if m.group(3) else _signed(m.group(1), m.group(2))


def fraction_match(m: re.Match) -> str:
    return f"{'负' if m.group(1) else ''}{read_number(m.group(3))}分之{read_number(m.group(2))}"


def percent_match(m: re.Match) -> str:
    return f"{'负' if m.group(1) else ''}百分之{read_number(m.group(2))}"


def negative_integer_match(m: re.Match) -> str:
    return _signed(m.group(1), m.group(2))


def digit_run_match(m: re.Match) -> str:
    return read_digits(m.group(0), alt_one=True)


def version_match(m: re.Match) -> str:
    return "".join("点" if c == "." else read_number(c) for c in m.group(0))


def quantity_match(m: re.Match) -> str:
    number = read_number(m.group(1))
    more = "多" if m.group(2) == "+" else (m.group(2) or "")
    return ("两" if number == "二" else number) + more + m.group(3)


def range_match(m: re.Match) -> str:
    first, second = (RE_NUMBER.sub(number_match, g) for g in m.groups())
    return f"{first}到{second}"


def arithmetic_match(m: re.Match) -> str:
    return m.group(1) + _OPERATORS[m.group(2)] + m.group(3)


def power_match(m: re.Match) -> str:
    return "的" + m.group(0).translate(_SUPERSCRIPTS) + "次方"
