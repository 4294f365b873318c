"""Cutting a long text into the sentences synthesised one by one (the reference's cut0..cut5 and the
text preparation of get_tts_wav)."""
from __future__ import annotations

import re
from typing import Callable

# Marks that end a piece; a piece not ending in one gets 。 (or "." in English mode).
SPLITS = {"，", "。", "？", "！", ",", ".", "?", "!", "~", ":", "：", "—", "…"}
# A piece made only of these is dropped by the cut methods.
PUNCTUATION = {"!", "?", "…", ",", ".", "-", " "}
_CUT5_MARKS = {",", ".", ";", "?", "!", "、", "，", "。", "？", "！", "：", "…"}
MIN_SEGMENT_CHARS = 5  # shorter pieces are merged into their neighbours
# Where `split_long` prefers to cut an over-long piece (just after one): every mark the cut methods know,
# a few more pauses, and white space.
BREAKS = SPLITS | _CUT5_MARKS | {"；", "、", " ", "\t"}


def _keep(pieces: list[str], dropped_if_only: set[str] = PUNCTUATION) -> str:
    return "\n".join(p for p in pieces if not set(p).issubset(dropped_if_only))


def split_sentences(text: str) -> list[str]:
    """Pieces ending at each mark of SPLITS (…… and —— count as one mark); the last one gets 。."""
    text = text.replace("……", "。").replace("——", "，")
    if text[-1] not in SPLITS:
        text += "。"
    pieces, start = [], 0
    for i, ch in enumerate(text):
        if ch in SPLITS:
            pieces.append(text[start:i + 1])
            start = i + 1
    return pieces


def cut0(text: str) -> str:
    """不切: no cut."""
    return text


def cut1(text: str) -> str:
    """凑四句一切: every four sentences; a last group of one to four sentences joins the one before."""
    text = text.strip("\n")
    sentences = split_sentences(text)
    starts = list(range(0, len(sentences), 4))
    if len(starts) < 2:
        return _keep([text])
    bounds: list[int | None] = starts[:-1] + [None]
    return _keep(["".join(sentences[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])


def cut2(text: str) -> str:
    """凑50字一切: sentences gathered until a piece passes 50 characters."""
    text = text.strip("\n")
    sentences = split_sentences(text)
    if len(sentences) < 2:
        return text
    pieces, current = [], ""
    for sentence in sentences:
        current += sentence
        if len(current) > 50:
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    if len(pieces) > 1 and len(pieces[-1]) < 50:  # a short tail joins the piece before
        pieces[-2:] = [pieces[-2] + pieces[-1]]
    return _keep(pieces)


def cut3(text: str) -> str:
    """按中文句号。切: at each 。 (which is dropped)."""
    return _keep(text.strip("\n").strip("。").split("。"))


def cut4(text: str) -> str:
    """按英文句号.切: at each "." that is not a decimal point (the "." is dropped)."""
    return _keep(re.split(r"(?<!\d)\.(?!\d)", text.strip("\n").strip(".")))


def cut5(text: str) -> str:
    """按标点符号切: after every punctuation mark, except a "." between digits."""
    text = text.strip("\n")
    pieces, current = [], ""
    for i, ch in enumerate(text):
        current += ch
        decimal_point = ch == "." and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()
        if ch in _CUT5_MARKS and not decimal_point:
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return _keep(pieces, _CUT5_MARKS)


CUTS: dict[str, Callable[[str], str]] = {
    "cut0": cut0, "cut1": cut1, "cut2": cut2, "cut3": cut3, "cut4": cut4, "cut5": cut5,
}
LABEL_TO_CUT = {
    "不切": "cut0",
    "凑四句一切": "cut1",
    "凑50字一切": "cut2",
    "按中文句号。切": "cut3",
    "按英文句号.切": "cut4",
    "按标点符号切": "cut5",
}


def to_cut(how_to_cut: str) -> str:
    """A cut name (cut0..cut5) or its label -> the cut name. Raises ValueError naming the choices."""
    if how_to_cut in CUTS:
        return how_to_cut
    if how_to_cut in LABEL_TO_CUT:
        return LABEL_TO_CUT[how_to_cut]
    raise ValueError(f"unknown cut method {how_to_cut!r}; use one of: {', '.join(list(CUTS) + list(LABEL_TO_CUT))}")


def merge_short(pieces: list[str], threshold: int = MIN_SEGMENT_CHARS) -> list[str]:
    """Glue pieces together until each has `threshold` characters; a short tail joins the last one."""
    if len(pieces) < 2:
        return pieces
    merged, current = [], ""
    for piece in pieces:
        current += piece
        if len(current) >= threshold:
            merged.append(current)
            current = ""
    if current:
        if merged:
            merged[-1] += current
        else:
            merged.append(current)
    return merged


def cut_text(text: str, how_to_cut: str = "cut0", mode: str = "all_zh") -> list[str]:
    """The pieces get_tts_wav synthesises one by one, each ending in a mark (。 or "." for en).

    Raises ValueError when the text has nothing to say (the reference's "请输入有效文本").
    """
    cut = CUTS[to_cut(how_to_cut)]
    text = text.strip("\n")
    if not text.strip():
        raise ValueError("no text to synthesise")
    text = cut(text)
    while "\n\n" in text:
        text = text.replace("\n\n", "\n")
    lines = text.split("\n")
    if all(line in ("", " ") for line in lines):
        raise ValueError("no text to synthesise (empty after cutting)")
    lines = merge_short([line for line in lines if line not in ("", " ")])
    return [with_end_mark(line, mode) for line in lines if line.strip()]


def with_end_mark(piece: str, mode: str = "all_zh") -> str:
    """The piece ending in a mark of SPLITS: 。 (or "." in English mode) is added when it has none."""
    return piece if piece[-1] in SPLITS else piece + ("." if mode == "en" else "。")


def split_long(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters that join back into `text`, for a segment too long for the
    models whatever the cut method said (the reference has no such step: it fails instead).

    Each piece ends just after the last break (BREAKS) among its first `limit` characters that leaves it
    something besides breaks; with none there, it is cut hard at `limit` characters."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    pieces = []
    while len(text) > limit:
        window = text[:limit]
        spoken = [i for i, ch in enumerate(window) if ch not in BREAKS]
        breaks = [i for i, ch in enumerate(window) if ch in BREAKS and spoken and i > spoken[0]]
        cut = breaks[-1] + 1 if breaks else limit
        pieces.append(text[:cut])
        text = text[cut:]
    if text:
        pieces.append(text)
    return pieces
