"""Why a clip cannot be prepared: one exception type, its message naming the clip, in Chinese and English."""
from __future__ import annotations


class ClipError(ValueError):
    """A clip (or its line of the .list) cannot be used for training; `clip` names it, `reason` says why."""

    def __init__(self, clip: str, reason_zh: str, reason_en: str):
        self.clip, self.reason = clip, reason_en
        super().__init__(f"片段 {clip}：{reason_zh} (clip {clip}: {reason_en})")


class WeightsVersionError(ValueError):
    """The pretrained SoVITS file is not of the version being fine-tuned."""
