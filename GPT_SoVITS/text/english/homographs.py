"""Homographs: words whose pronunciation depends on their part of speech ("to present" / "a present").

The table is g2p_en's ``homographs.en`` (read from the installed package without importing it), lines
``HEADWORD|PRON-IF-POS|PRON-OTHERWISE|POS``; a word takes the first pronunciation when its Penn tag
starts with POS (almost always "V"). The reference overrides two entries: "read" (VBP: R IY1 D) and
"complex" (the original keys on "ADJ", which Penn tags never produce).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .neural_g2p import package_folder


@dataclass(frozen=True)
class Homograph:
    when_pos: list[str]
    otherwise: list[str]
    pos: str

    def pronounce(self, tag: str | None) -> list[str]:
        if tag is None:  # no tagger: the default reading
            return self.otherwise
        if tag.startswith(self.pos):
            return self.when_pos
        # A tag that is a prefix of the key also counts ("VB" for "VBP"); the reference's rule for "read".
        if len(tag) < len(self.pos) and self.pos[: len(tag)] == tag:
            return self.when_pos
        return self.otherwise


_OVERRIDES = {
    "read": Homograph(["R", "IY1", "D"], ["R", "EH1", "D"], "VBP"),
    "complex": Homograph(["K", "AH0", "M", "P", "L", "EH1", "K", "S"], ["K", "AA1", "M", "P", "L", "EH0", "K", "S"], "JJ"),
}


@lru_cache(maxsize=1)
def homographs() -> dict[str, Homograph]:
    """Lower-case headword -> Homograph; only the overrides when g2p_en is not installed."""
    table: dict[str, Homograph] = {}
    folder = package_folder("g2p_en")
    path = folder / "homographs.en" if folder else None
    if path is not None and path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("#"):
                continue
            head, first, second, pos = line.strip().split("|")
            table[head.lower()] = Homograph(first.split(), second.split(), pos)
    table.update(_OVERRIDES)
    return table
