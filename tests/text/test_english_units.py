"""English frontend pieces: normalisation rules and quirks, the guesser, homographs, offline fallbacks.

The sentences here are made up for these tests (not corpus rows); expected values follow the reference's
rules as documented in tests/golden/frontend/README.md ("quirks") and in g2p_en's README.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from golden_data import REPO_ROOT
from GPT_SoVITS.text.english import build_g2p, g2p, text_normalize
from GPT_SoVITS.text.english import dictionary, tagger
from GPT_SoVITS.text.english.dictionary import Lexicon, build_lexicon
from GPT_SoVITS.text.english.homographs import homographs
from GPT_SoVITS.text.english.neural_g2p import default_guesser


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Yes，sir!", "Yessir!"),  # the escaped rep_map never maps "，" to ","; it is deleted
        ("Wait: now.", "Wait now."),
        ("at -5", "atnegative five"),  # the minus rule swallows the space
        ("In 1984 and 2005.", "In nineteen eighty-four and two thousand five."),
        ("£3.05", "three pounds and five pence"),
        ("3/2 or 1/3", "three halves or one third"),
        ("Use a PDF.", "Use a P D F."),
        ("Wait... what?!", "Wait. what?"),
        ("It is 50% off, e.g. today.", "It is fifty percent off, for example today."),
        ("21st", "twenty-first"),
    ],
)
def test_normalisation(text: str, expected: str):
    assert text_normalize(text) == expected


@pytest.fixture(scope="module")
def registry_g2p():
    return build_g2p(build_lexicon(None), tagger=None)


def test_letters_and_abbreviations(registry_g2p):
    assert g2p("A", registry_g2p) == ["EY1"]  # a capital A alone is the letter
    assert g2p("Dr.", registry_g2p) == ["D", "R", "AY1", "V", "."]  # the dictionary reads "dr" as drive
    assert g2p("B", registry_g2p) == ["B", "IY1"]


def test_acronyms_removed_from_dictionary_are_spelled(registry_g2p):
    assert "ai" not in registry_g2p.lexicon.words
    assert g2p("ai", registry_g2p) == ["EY1", "AY1"]  # short unknown word: letter by letter


def test_possessive_endings():
    lexicon = Lexicon({"cat": ["K", "AE1", "T"], "dog": ["D", "AO1", "G"], "boss": ["B", "AO1", "S"]})
    converter = build_g2p(lexicon, tagger=None)
    assert converter.lookup("Cat's") == ["K", "AE1", "T", "S"]  # voiceless ending
    assert converter.lookup("boss's") == ["B", "AO1", "S", "AH0", "Z"]  # sibilant ending
    assert converter.lookup("dog's") == ["D", "AO1", "G", "Z"]  # voiced ending


def test_guesser_matches_g2p_en_readme():
    guesser = default_guesser()
    assert guesser is not None, "g2p_en's checkpoint20.npz should be installed (requirements.txt)"
    # g2p_en's README shows this newly coined word.
    assert guesser("activationist") == ["AE2", "K", "T", "IH0", "V", "EY1", "SH", "AH0", "N", "IH0", "S", "T"]


def test_homograph_rule():
    read = homographs()["read"]
    assert read.pronounce("VBP") == ["R", "IY1", "D"]
    assert read.pronounce("VB") == ["R", "IY1", "D"]  # a prefix of VBP counts too
    assert read.pronounce("VBD") == ["R", "EH1", "D"]
    assert read.pronounce(None) == ["R", "EH1", "D"]  # no tagger: the default reading
    assert homographs()["complex"].pronounce("JJ")[-3:] == ["EH1", "K", "S"]
    assert "live" not in homographs()


def test_missing_tagger_warns_once(monkeypatch, caplog):
    monkeypatch.setattr(tagger, "find_tagger_folder", lambda: None)
    tagger.default_tagger.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger=tagger.__name__):
            assert tagger.default_tagger() is None
            assert tagger.default_tagger() is None
        messages = [r.getMessage() for r in caplog.records if r.name == tagger.__name__]
        assert len(messages) == 1 and tagger.INSTALL_HINT in messages[0]
    finally:
        tagger.default_tagger.cache_clear()


def test_dictionary_folder_from_environment(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv(dictionary.ENV_DICT_DIR, str(tmp_path))
    with caplog.at_level(logging.WARNING, logger=dictionary.__name__):
        assert dictionary.configured_folder() is None  # incomplete folder: warn, use the registry
    assert "cmudict.rep" in caplog.text
    for name in dictionary.REFERENCE_FILES:
        (tmp_path / name).write_text("", encoding="utf-8")
    assert dictionary.configured_folder() == tmp_path


def test_reference_files_merge_in_order(tmp_path):
    header = "".join(";;; header\n" for _ in range(dictionary._CMUDICT_REP_FIRST_ENTRY - 1))
    (tmp_path / "cmudict.rep").write_text(header + "HELLO  HH AH0 L OW1\nWORLD  W ER1 L D\n", encoding="utf-8")
    (tmp_path / "cmudict-fast.rep").write_text("HELLO HH EH1 L OW0\nFOO F UW1\n", encoding="utf-8")
    (tmp_path / "engdict-hot.rep").write_text("WORLD W AO1 R L D\n", encoding="utf-8")
    words = build_lexicon(tmp_path).words
    assert words["hello"] == ["HH", "AH0", "L", "OW1"]  # cmudict.rep wins over the fast file
    assert words["foo"] == ["F", "UW1"]  # the fast file fills gaps
    assert words["world"] == ["W", "AO1", "R", "L", "D"]  # the hot file overrides


def test_import_has_no_side_effects():
    """Converting text neither imports g2p_en (its import tries NLTK downloads) nor touches the network."""
    code = (
        "import sys, socket\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "from GPT_SoVITS.text.english import g2p, text_normalize\n"
        "assert g2p(text_normalize('Hello world, again.'))\n"
        "assert 'g2p_en' not in sys.modules\n"
    )
    env = dict(os.environ)
    reference = REPO_ROOT.parent / "shared" / "refdata"
    if reference.is_dir():  # faster to parse than the cmudict package; either source is fine here
        env.setdefault(dictionary.ENV_DICT_DIR, str(reference))
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_word_counts_load_only_for_a_word_that_needs_splitting():
    """wordsegment's counts (~100 MB) stay unloaded while every word is in the dictionary (the service's
    warm-up, most English text), and a run-together unknown word still splits into dictionary words."""
    converter = build_g2p(build_lexicon(None), tagger=None)
    g2p("Hello world, this is a test.", converter)
    assert not converter.segmenter.loaded
    assert "catdog" not in converter.lexicon.words
    assert converter.lookup("catdog") == converter.lookup("cat") + converter.lookup("dog")
    assert converter.segmenter.loaded
