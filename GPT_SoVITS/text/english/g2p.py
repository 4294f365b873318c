"""English words to ARPAbet phones, the reference's way (its `en_G2p` on top of g2p_en).

Per token of the normalised text, in this order:
1. no letter in it (punctuation): the token itself;
2. a single letter: read by name ("A" alone is EY1, "a" the article);
3. a homograph: chosen by its part of speech;
4. otherwise `lookup`: the dictionary (words of 2+ letters), then the names table for Title-case words,
   words of up to 3 letters spelled out, possessives ('s after the stem's last phone), run-together
   words split by `wordsegment` and looked up piece by piece, and finally the neural guesser.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from wordsegment import Segmenter

from .dictionary import Lexicon
from .homographs import Homograph
from .neural_g2p import NeuralG2p
from .tagger import Tagger

_VOICELESS = {"P", "T", "K", "F", "TH", "HH"}  # ...'s -> S
_SIBILANTS = {"S", "Z", "SH", "ZH", "CH", "JH"}  # ...'s -> AH0 Z; everything else -> Z
_POSSESSIVE_RE = re.compile(r"^([a-z]+)('s)$")


class LazySegmenter:
    """wordsegment's `Segmenter`, its unigram and bigram counts (~100 MB resident) loaded on the first word
    that needs splitting. Only a word outside the dictionary, longer than three letters and not a
    possessive gets there, so most processes never load them."""

    def __init__(self) -> None:
        self._segmenter: Segmenter | None = None

    @property
    def loaded(self) -> bool:
        return self._segmenter is not None

    def segment(self, word: str) -> list[str]:
        if self._segmenter is None:
            segmenter = Segmenter()
            segmenter.load()
            self._segmenter = segmenter
        return self._segmenter.segment(word)


@dataclass
class EnglishG2p:
    lexicon: Lexicon
    homographs: dict[str, Homograph]
    guesser: NeuralG2p | None
    segmenter: LazySegmenter
    tokenize: Callable[[str], list[str]]
    tagger: Tagger | None  # None: no part-of-speech tags, homographs take their default reading

    def tag(self, text: str) -> list[tuple[str, str | None]]:
        tokens = self.tokenize(text)
        if self.tagger is None:
            return [(token, None) for token in tokens]
        return self.tagger(tokens)

    def __call__(self, text: str) -> list[str]:
        """Phones of every token, with " " between tokens (as g2p_en returns them)."""
        phones: list[str] = []
        for token, pos in self.tag(text):
            phones += self.token(token, pos) + [" "]
        return phones[:-1]

    def token(self, token: str, pos: str | None) -> list[str]:
        word = token.lower()
        if re.search("[a-z]", word) is None:
            return [word]
        if len(word) == 1:
            return ["EY1"] if token == "A" else self.letter(word)
        if word in self.homographs:
            return self.homographs[word].pronounce(pos)
        return self.lookup(token)

    def letter(self, letter: str) -> list[str]:
        return self.lexicon.words[letter]

    def spell(self, c: str) -> list[str]:
        if c == "a":
            return ["EY1"]  # the letter's name, not the article
        return self.letter(c) if c.isalpha() else [c]

    def lookup(self, token: str) -> list[str]:
        word = token.lower()
        if len(word) > 1 and word in self.lexicon.words:
            return self.lexicon.words[word]
        if token.istitle() and word in self.lexicon.names:
            return self.lexicon.names[word]
        if len(word) <= 3:  # short unknown words are spelled out
            return [p for c in word for p in self.spell(c)]
        if _POSSESSIVE_RE.match(word):
            stem = self.lookup(word[:-2])
            if stem[-1] in _VOICELESS:
                return stem + ["S"]
            if stem[-1] in _SIBILANTS:
                return stem + ["AH0", "Z"]
            return stem + ["Z"]
        pieces = self.segmenter.segment(word)
        if len(pieces) == 1:
            return self.guess(word)
        return [p for piece in pieces for p in self.lookup(piece)]

    def guess(self, word: str) -> list[str]:
        if self.guesser is None:  # g2p_en not installed: spell the word out
            return [p for c in word if c.isalpha() for p in self.letter(c)]
        return self.guesser(word)
