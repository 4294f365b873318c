"""Chinese frontend pieces: the pinyin rule against the reference's table, symbols, number reading."""
from __future__ import annotations

import pytest

from frontend_rows import SHARED, skip_or_fail
from GPT_SoVITS.text.symbols import SYMBOLS_V1, SYMBOLS_V2, cleaned_text_to_sequence
from GPT_SoVITS.text.zh_normalization.numbers import read_cardinal, read_number
from GPT_SoVITS.text.zh_pinyin import pinyin_to_phones, spelled_syllable

OPENCPOP = SHARED / "refdata" / "opencpop-strict.txt"


def test_pinyin_rule_reproduces_every_line_of_the_reference_table():
    if not OPENCPOP.exists():
        skip_or_fail(f"the reference's pinyin table {OPENCPOP}",
                     f"opencpop-strict.txt from GPT-SoVITS's GPT_SoVITS/text/ in {OPENCPOP.parent}")
    lines = [line.rstrip("\n").split("\t") for line in OPENCPOP.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) > 400
    wrong = [(syllable, phones, " ".join(pinyin_to_phones(syllable))) for syllable, phones in lines
             if " ".join(pinyin_to_phones(syllable)) != phones.strip()]
    assert wrong == []


@pytest.mark.parametrize("bad", ["ng", "hm", "m", "bx", "ê"])
def test_non_syllables_are_rejected(bad: str):
    with pytest.raises(ValueError):
        pinyin_to_phones(bad)


@pytest.mark.parametrize("initial, final, spelled", [
    ("", "i", "yi"), ("", "ing", "ying"), ("", "u", "wu"), ("", "v", "yu"), ("", "van", "yuan"),
    ("", "uei", "wei"), ("", "iou", "you"), ("g", "uei", "gui"), ("j", "iou", "jiu"), ("l", "uen", "lun"),
    ("", "er", "er"), ("", "a", "a"),
])
def test_spelled_syllable(initial: str, final: str, spelled: str):
    assert spelled_syllable(initial, final) == spelled


def test_symbol_tables():
    assert (len(SYMBOLS_V1), len(SYMBOLS_V2)) == (322, 732)
    assert SYMBOLS_V2[:322] == SYMBOLS_V1 and SYMBOLS_V1 == sorted(SYMBOLS_V1)
    assert len(set(SYMBOLS_V2)) == len(SYMBOLS_V2)
    assert SYMBOLS_V2[322:324] == ["[", "]"]
    assert cleaned_text_to_sequence(["_", "!"], "v1") == [SYMBOLS_V1.index("_"), SYMBOLS_V1.index("!")]
    with pytest.raises(KeyError):
        cleaned_text_to_sequence(["["], "v1")


@pytest.mark.parametrize("digits, words", [
    ("0", "零"), ("000", "零"), ("10", "十"), ("15", "十五"), ("105", "一百零五"), ("1000", "一千"),
    ("10010", "一万零一十"), ("100000000", "一亿"), ("120000", "十二万"),
])
def test_cardinals(digits: str, words: str):
    assert read_cardinal(digits) == words


@pytest.mark.parametrize("number, words", [("3.14", "三点一四"), (".5", "零点五"), ("3.20", "三点二零"), ("2.0", "二点零")])
def test_decimals_keep_the_reference_trailing_zero_rule(number: str, words: str):
    assert read_number(number) == words


def test_reference_character_table_can_replace_opencc(tmp_path, monkeypatch):
    from GPT_SoVITS.text.zh_normalization import t2s

    table = tmp_path / "char_convert.py"
    table.write_text('simplified_charcters = "干伙"\ntraditional_characters = "乾夥"\n', encoding="utf-8")
    monkeypatch.setenv("GPT_SOVITS_ZH_CHAR_TABLE", str(table))
    t2s._converter.cache_clear()
    try:
        assert t2s.to_simplified("乾夥這") == "干伙這"  # only the given table applies
    finally:
        monkeypatch.delenv("GPT_SOVITS_ZH_CHAR_TABLE")
        t2s._converter.cache_clear()
    assert t2s.to_simplified("這個問題") == "这个问题"
