"""Traditional -> simplified characters, one character at a time (as the reference does).

The reference uses its own character table (PaddleSpeech's char_convert.py). We take OpenCC's t2s
character mapping from the `opencc` package instead; the two agree on common characters. Where they
differ (rare variants such as 乾, 夥, 唸 that the reference leaves alone), pointing
GPT_SOVITS_ZH_CHAR_TABLE at the reference's char_convert.py reproduces it exactly.
"""
from __future__ import annotations

import ast
import functools
import os
from pathlib import Path


def _reference_table(path: Path) -> dict[str, str]:
    # The file defines two equally long strings; read them as literals, never execute the file.
    strings: dict[str, str] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    strings[target.id] = node.value.value
    simplified, traditional = strings["simplified_charcters"], strings["traditional_characters"]
    return dict(zip(traditional, simplified))


@functools.lru_cache(maxsize=1)
def _converter():
    table_path = os.environ.get("GPT_SOVITS_ZH_CHAR_TABLE")
    if table_path:
        table = _reference_table(Path(table_path))
        return lambda ch: table.get(ch, ch)
    import opencc

    opencc_t2s = opencc.OpenCC("t2s")
    return functools.lru_cache(maxsize=None)(opencc_t2s.convert)


def to_simplified(text: str) -> str:
    if text.isascii():
        return text
    convert = _converter()
    return "".join(convert(ch) if not ch.isascii() else ch for ch in text)
