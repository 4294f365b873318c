"""Text -> what the GPT reads: phoneme ids and BERT features, as the reference's get_phones_and_bert.

Chinese segments get BERT features of their normalised text; every other language gets zeros of the
same width (the reference's get_bert_inf).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError


@dataclass(frozen=True)
class TextFeatures:
    phone_ids: list[int]
    bert: np.ndarray  # float32 [1024, len(phone_ids)]
    norm_text: str


def language_mode(language: str) -> str:
    from GPT_SoVITS.text.languages import to_mode

    try:
        return to_mode(language)
    except ValueError as exc:
        raise InputError(f"语言不支持 (unsupported language): {exc}") from exc


def prepare_prompt_text(prompt_text: str, language: str) -> str:
    """The reference strips newlines and ends the prompt with 。 (. for English) when it has no mark."""
    from GPT_SoVITS.text.cuts import SPLITS

    prompt_text = prompt_text.strip("\n")
    if prompt_text and prompt_text[-1] not in SPLITS:
        prompt_text += "." if language_mode(language) == "en" else "。"
    return prompt_text


def split_target_text(text: str, how_to_cut: str, language: str) -> list[str]:
    from GPT_SoVITS.text.cuts import cut_text, to_cut

    mode = language_mode(language)
    try:
        cut = to_cut(how_to_cut)
    except ValueError as exc:
        raise InputError(f"切分方式不支持 (unsupported cut method): {exc}") from exc
    try:
        return cut_text(text, cut, mode)
    except ValueError as exc:
        raise InputError(f"目标文本为空 (nothing to synthesise): {exc}") from exc


def text_features(models, text: str, language: str, version: str) -> TextFeatures:
    from GPT_SoVITS.models.bert import bert_features
    from GPT_SoVITS.text.routing import get_phones

    try:
        result = get_phones(text, language_mode(language), version)
    except InputError:
        raise
    except Exception as exc:  # a frontend failure on odd input is the user's text, not a server fault
        raise InputError(f"文本处理失败 (text frontend failed on {text!r}): {exc}") from exc
    if not result.phone_ids:
        raise InputError(f"文本没有可发音的内容 (nothing pronounceable in {text!r})")
    berts = [bert_features(models.bert, seg.lang, seg.norm_text, seg.word2ph, len(seg.phone_ids))
             for seg in result.segments]
    return TextFeatures(result.phone_ids, np.concatenate(berts, axis=1).astype(np.float32), result.norm_text)
