"""Spoken training clips for the fine-tuning tests: three Chinese sentences read by espeak-ng, one WAV each,
with the sentences as their transcripts."""
from __future__ import annotations

import subprocess
from pathlib import Path

from support.required import need_tool

SENTENCES = ["今天天气真不错，我们一起去公园散步吧。", "欢迎使用语音合成服务，祝你有美好的一天。", "我们明天早上八点在学校门口见面。"]


def spoken_clips(folder: Path) -> list[Path]:
    """`folder/s<i>.wav` for each of SENTENCES, in their order."""
    need_tool("espeak-ng")
    made = []
    for index, text in enumerate(SENTENCES):
        path = folder / f"s{index}.wav"
        subprocess.run(["espeak-ng", "-v", "zh", "-w", str(path), text], check=True, capture_output=True)
        made.append(path)
    return made
