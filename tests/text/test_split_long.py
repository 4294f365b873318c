"""`split_long`: the rule that cuts a segment too long for the models (issue 19)."""
from __future__ import annotations

import pytest

from GPT_SoVITS.text.cuts import BREAKS, split_long


@pytest.mark.parametrize("text,limit", [
    ("今天天气很好我们一起去公园散步吧" * 40, 126),  # no break at all
    ("今天天气很好，我们一起去公园散步吧。" * 30, 100),
    ("one two three four five six seven eight nine ten " * 20, 37),
    ("，，，你好" * 50, 7),
    ("短", 5),
])
def test_pieces_fit_and_join_back_into_the_text(text, limit):
    pieces = split_long(text, limit)
    assert "".join(pieces) == text
    assert all(0 < len(piece) <= limit for piece in pieces)


def test_without_a_break_the_cut_is_hard_at_the_limit():
    text = "今天天气很好我们一起去公园散步吧" * 40
    assert [len(p) for p in split_long(text, 126)] == [126] * 5 + [len(text) - 5 * 126]


def test_the_cut_is_after_the_last_break_before_the_limit():
    text = "今天天气很好，我们一起去公园散步吧。明天也去公园吧" * 3
    pieces = split_long(text, 30)
    assert pieces[0] == "今天天气很好，我们一起去公园散步吧。"
    assert all(piece[-1] in BREAKS for piece in pieces[:-1])
    assert split_long("天气 很好 我们 一起 去公园", 8) == ["天气 很好 ", "我们 一起 ", "去公园"]


def test_a_break_with_nothing_spoken_before_it_is_not_a_cut():
    # Cutting after the leading "，" would leave a piece with nothing to say.
    assert split_long("，天气很好我们一起去", 5) == ["，天气很好", "我们一起去"]


def test_text_that_fits_is_one_piece():
    assert split_long("你好。", 3) == ["你好。"]
    with pytest.raises(ValueError):
        split_long("你好", 0)
