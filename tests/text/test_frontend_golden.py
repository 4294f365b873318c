"""Every row of the golden frontend corpus (clean_text, phones_and_bert, cuts), v1 and v2: exact equality
of norm_text, phones, phone ids, word2ph, segments. Rows that reach English use the reference's
dictionaries and NLTK tagger (../shared, or GPT_SOVITS_EN_DICT_DIR / NLTK_DATA); without them only
those rows skip (fail where the run must not skip), the Chinese and Japanese rows still run."""
from __future__ import annotations

import pytest

from frontend_rows import (exact_english, langs_of, needs_english, require_corpus,  # noqa: F401
                           require_english, require_language, row_id, rows)
from GPT_SoVITS.text.cleaner import clean_text
from GPT_SoVITS.text.cuts import CUTS, cut_text
from GPT_SoVITS.text.routing import get_phones
from GPT_SoVITS.text.symbols import cleaned_text_to_sequence

pytestmark = pytest.mark.usefixtures("exact_english")

CLEAN_ROWS = rows("clean_text.jsonl")
PIPELINE_ROWS = rows("phones_and_bert.jsonl")
CUT_ROWS = rows("cuts.jsonl")


def _segments(result) -> list[dict]:
    return [
        {"lang": s.lang, "text": s.text, "norm_text": s.norm_text, "phones": s.phones,
         "phone_ids": s.phone_ids, "word2ph": s.word2ph}
        for s in result.segments
    ]


@pytest.mark.parametrize("row", CLEAN_ROWS, ids=row_id)
def test_clean_text(row: dict):
    require_corpus(row)
    require_language(row["language"])
    if needs_english(row):
        require_english()
    if row.get("error"):
        with pytest.raises(Exception):
            clean_text(row["text"], row["language"], row["version"])
        return
    phones, word2ph, norm_text = clean_text(row["text"], row["language"], row["version"])
    assert norm_text == row["norm_text"]
    assert phones == row["phones"]
    assert word2ph == row["word2ph"]
    assert cleaned_text_to_sequence(phones, row["version"]) == row["phone_ids"]


@pytest.mark.parametrize("row", PIPELINE_ROWS, ids=row_id)
def test_phones_and_bert(row: dict):
    require_corpus(row)
    for lang in langs_of(row):
        require_language(lang)
    if needs_english(row):
        require_english()
    if row.get("error"):
        with pytest.raises(Exception):
            get_phones(row["text"], row["mode"], row["version"])
        return
    result = get_phones(row["text"], row["mode"], row["version"])
    keys = ("lang", "text", "norm_text", "phones", "phone_ids", "word2ph")
    assert _segments(result) == [{k: s[k] for k in keys} for s in row["segments"]]
    assert result.phone_ids == row["phone_ids"]
    assert result.norm_text == row["norm_text"]
    assert result.retried_with_dot == row["retried_with_dot"]
    assert result.text == row["final_text"]


@pytest.mark.parametrize("row", CUT_ROWS, ids=row_id)
def test_cuts(row: dict):
    require_corpus(row)
    text = row["text"].strip("\n")
    for name in CUTS:
        assert CUTS[name](text) == row["cuts"][name], name
        assert cut_text(row["text"], name, row["mode"]) == row["segments"][name], name


@pytest.mark.parametrize("row", CUT_ROWS, ids=row_id)
def test_cut_segments_through_the_pipeline(row: dict):
    require_corpus(row)
    for lang in ("en", "ja"):
        require_language(lang)
    if needs_english(row):
        require_english()
    for name, expected in row["v2"].items():
        segments = cut_text(row["text"], name, row["mode"])  # the product's cut, not the corpus's
        assert segments == [entry["text"] for entry in expected], name
        for segment, entry in zip(segments, expected):
            if entry.get("error"):
                with pytest.raises(Exception):
                    get_phones(segment, row["mode"], "v2")
                continue
            result = get_phones(segment, row["mode"], "v2")
            assert (result.norm_text, result.phones, result.phone_ids) == (
                entry["norm_text"], entry["phones"], entry["phone_ids"]), f"{name}: {segment}"
