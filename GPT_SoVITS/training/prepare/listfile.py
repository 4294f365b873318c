"""The reference's `.list` of transcribed clips: one `path|speaker|language|text` line per clip.

Languages are written as the reference's tools write them (ZH, JP, EN, ... or zh, ja, en) and mapped as
prepare_datasets/1-get-text.py maps them. A clip's name is its file name (the reference keys every
prepared file by `os.path.basename`), so two clips with one file name are an error.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ClipError

# 1-get-text.py's language_v1_to_language_v2
LANGUAGES = {"ZH": "zh", "zh": "zh", "JP": "ja", "jp": "ja", "JA": "ja", "ja": "ja", "EN": "en", "en": "en",
             "En": "en", "KO": "ko", "Ko": "ko", "ko": "ko", "yue": "yue", "YUE": "yue", "Yue": "yue"}
FRONTEND_LANGUAGES = ("zh", "ja", "en")  # those this project's text frontend reads (no Korean, Cantonese)


@dataclass(frozen=True)
class ListEntry:
    name: str  # the file name: the clip's key in the prepared folder
    path: Path  # where the audio is
    speaker: str
    language: str  # zh, ja or en
    text: str  # the transcript as written


def clean_path(path: str) -> str:
    """tools/my_utils.clean_path: no trailing slash, no surrounding spaces, quotes or newlines."""
    while path.endswith(("\\", "/")):
        path = path[:-1]
    return path.replace("/", os.sep).replace("\\", os.sep).strip(" '\n\"\u202a")


def parse_line(line: str, line_number: int, wav_dir: Path | None = None) -> ListEntry:
    fields = line.split("|")
    if len(fields) != 4:
        raise ClipError(f"line {line_number}",
                        f"格式应为 路径|说话人|语言|文本，此行有 {len(fields)} 段",
                        f"expected path|speaker|language|text, got {len(fields)} fields")
    raw_path, speaker, language, text = fields
    path = clean_path(raw_path)
    name = os.path.basename(path)
    # 2-get-hubert-wav32k.py: with an input folder, only the file name of the listed path counts.
    where = wav_dir / name if wav_dir is not None else Path(path)
    if language not in LANGUAGES:
        raise ClipError(name, f"语言 {language!r} 不支持（可用：ZH、JA、EN 等）",
                        f"language {language!r} is not one the reference trains (ZH/zh, JA/JP/ja, EN/en)")
    mapped = LANGUAGES[language]
    if mapped not in FRONTEND_LANGUAGES:
        raise ClipError(name, f"本项目的文本前端不支持语言 {language}（支持中文、日文、英文）",
                        f"this project's text frontend has no {language} (it reads zh, ja, en)")
    if not text.strip():
        raise ClipError(name, "转写文本为空", "the transcript is empty")
    return ListEntry(name=name, path=where, speaker=speaker, language=mapped, text=text)


def read_list(path: str | Path, wav_dir: str | Path | None = None) -> tuple[list[ListEntry], list[ClipError]]:
    """Every clip of the .list, and the errors of the lines that cannot be used (each naming its clip)."""
    lines = Path(path).read_text(encoding="utf-8").strip("\n").split("\n")
    entries: list[ListEntry] = []
    errors: list[ClipError] = []
    seen: dict[str, int] = {}
    folder = Path(wav_dir) if wav_dir else None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = parse_line(line, number, folder)
        except ClipError as exc:
            errors.append(exc)
            continue
        if entry.name in seen:
            errors.append(ClipError(entry.name, f"与第 {seen[entry.name]} 行同名（按文件名区分片段）",
                                    f"same file name as line {seen[entry.name]} (clips are keyed by file name)"))
            continue
        seen[entry.name] = number
        entries.append(entry)
    return entries, errors
