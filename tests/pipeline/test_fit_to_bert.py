"""`fit_to_bert`: segments too long for BERT are cut again, with the real text frontend and a stand-in
BERT that counts one token per normalised character plus [CLS] and [SEP] (as chinese-roberta does)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from GPT_SoVITS.pipeline import InputError
from GPT_SoVITS.pipeline.text_features import bert_tokens, fit_to_bert


class CountingBert:
    def __init__(self, max_tokens: int):
        self.max_tokens = max_tokens
        self.measured: list[str] = []

    def token_count(self, norm_text: str) -> int:
        self.measured.append(norm_text)
        return len(norm_text) + 2

    def reads(self, language: str) -> bool:
        return language.replace("all_", "") == "zh"


def _models(limit: int) -> SimpleNamespace:
    return SimpleNamespace(bert=CountingBert(limit))


def _fits(models, segments: list[str]) -> bool:
    return all(bert_tokens(models, s, "all_zh", "v2") <= models.bert.max_tokens for s in segments)


def test_segments_that_fit_are_untouched():
    models = _models(512)
    segments = ["你好，欢迎使用语音合成系统。", "今天天气很好，我们一起去公园散步吧。" * 10]
    assert fit_to_bert(models, segments, "中文", "v2") == segments
    assert len(models.bert.measured) == 1  # a short segment is not even measured


def test_a_long_segment_is_cut_after_its_last_punctuation_that_fits():
    models = _models(64)
    sentence = "今天天气很好，我们一起去公园散步吧。"
    segments = fit_to_bert(models, [sentence * 8], "中文", "v2")
    assert segments[0] == sentence * 3 + "今天天气很好，"  # 61 characters at most: 64 less [CLS], [SEP], 。
    assert "".join(segments) == sentence * 8
    assert _fits(models, segments)


def test_pieces_that_normalisation_lengthens_are_cut_again():
    models = _models(64)
    text = "百分比是1%" * 24 + "。"  # every 1% reads 百分之一: twice as long once normalised
    segments = fit_to_bert(models, [text], "中文", "v2")
    assert len(segments) > 2 and _fits(models, segments)
    assert "".join(s.removesuffix("。") for s in segments) == text.removesuffix("。")


def test_a_limit_nothing_fits_is_an_input_error_naming_it():
    with pytest.raises(InputError, match="BERT.* 3 "):
        fit_to_bert(_models(3), ["今天天气很好我们一起去公园散步吧。"], "中文", "v2")
