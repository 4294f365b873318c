"""Which characters stored display text may hold: the one rule, used by `clean_text` and `clean_name`.

Every text field (names, descriptions, prompt_text) refuses
  - control characters (Unicode category Cc) other than tab and newline: C0, DEL and C1;
  - lone surrogates (Cs), which JSON's \\ud800 escapes can carry but no text can;
  - the bidi embeddings, overrides and isolates U+202A-U+202E and U+2066-U+2069: they reorder
    the text that follows them on screen (the "Trojan Source" trick), so what an admin reads is
    not what is stored.
Names (model_name, category_name) are identifiers an admin tells apart at a glance, so they also refuse
  - every format character (Cf): zero-width space and (non-)joiners U+200B-U+200D, the direction
    marks U+200E, U+200F and U+061C, word joiner U+2060, BOM U+FEFF, soft hyphen U+00AD, Mongolian
    vowel separator U+180E, tag characters U+E0000-U+E007F, ... (emoji joined with U+200D, such as
    family or profession sequences, and subdivision flags are therefore refused in names: a name
    needs no invisible joiner, and one can make two different names look the same);
  - tab and newline, and the line and paragraph separators U+2028, U+2029 (Zl, Zp): a name is one line;
  - the Hangul fillers U+115F, U+1160, U+3164, U+FFA0, letters that draw nothing.
Visible text of any script (CJK, Arabic, Hebrew, ...) and emoji without joiners stay allowed, and so do
variation selectors (U+FE0F, which picks an emoji's colour glyph) and combining marks.
"""
from __future__ import annotations

import unicodedata

TEXT_CONTROLS_ALLOWED = "\t\n"
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
NAME_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def refused_char(value: str, name: bool = False) -> str | None:
    """The first character `value` may not hold under the rule above, or None."""
    for ch in value:
        category = unicodedata.category(ch)
        if name:
            if category in NAME_REFUSED_CATEGORIES or ch in INVISIBLE_LETTERS:
                return ch
        elif (category == "Cc" and ch not in TEXT_CONTROLS_ALLOWED) or category == "Cs" or ch in BIDI_CONTROLS:
            return ch
    return None


def describe(ch: str) -> str:
    """`U+202E` for the error message (the character itself would be invisible or reorder it)."""
    return f"U+{ord(ch):04X}"
