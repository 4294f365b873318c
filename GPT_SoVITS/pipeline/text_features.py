"""Text -> what the GPT reads: phoneme ids and BERT features, as the reference's get_phones_and_bert.

Chinese segments get BERT features of their normalised text; every other language gets zeros of the
same width (the reference's get_bert_inf).

Over-long segments (`fit_to_bert`, the one rule): BERT reads at most `max_position_embeddings` tokens
(from the loaded model's config: 512 for chinese-roberta, [CLS] and [SEP] included), and the reference
simply fails past that. Here a segment whose Chinese text would need more is cut again (`split_long`):
after the last break (punctuation or space) within `limit - 3` characters, else hard there; each piece
ends in a mark like every segment (。 added). A piece still too long (text normalisation lengthens
digits, units) is cut again at half as many characters; one that cannot fit even so is an InputError
naming the limit. Segments that fit are untouched, so ordinary texts synthesise as the reference's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from GPT_SoVITS.models.backends import TextTooLongError

from .errors import InputError
from .models import Models


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


# Positions a piece of `split_long` may need beyond its characters: [CLS], [SEP] and the end mark added.
_RESERVED_TOKENS = 3
# Text normalisation makes Chinese at most about twice as long (1% -> 百分之一, 12亿 digits and units);
# a segment this many times shorter than the limit is not measured (the frontend is not run twice).
_MAX_NORMALISED_GROWTH = 4


def too_long_error(limit: int, tokens: int | None = None) -> InputError:
    needs = f"，此段需要 {tokens} 个" if tokens is not None else ""
    found = f", this one needs {tokens}" if tokens is not None else ""
    return InputError(f"文本过长：BERT 一次最多读 {limit} 个词元（含 [CLS] 与 [SEP]）{needs} "
                      f"(text too long for BERT: at most {limit} tokens{found})")


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


def fit_to_bert(models: Models, segments: list[str], language: str, version: str) -> list[str]:
    """The segments with every one too long for BERT cut again (the rule in this module's docstring)."""
    limit = models.bert.max_tokens
    mode = language_mode(language)

    def tokens(text: str) -> int:
        return bert_tokens(models, text, language, version)

    fitted: list[str] = []
    for segment in segments:
        if len(segment) * _MAX_NORMALISED_GROWTH + _RESERVED_TOKENS <= limit:
            fitted.append(segment)
        else:
            fitted += _fit(segment, tokens, limit, limit - _RESERVED_TOKENS, mode)
    return fitted


def _fit(segment: str, tokens, limit: int, budget: int, mode: str) -> list[str]:
    from GPT_SoVITS.text.cuts import split_long, with_end_mark

    needed = tokens(segment)
    if needed <= limit:
        return [segment]
    if budget < 1:
        raise too_long_error(limit, needed)
    pieces = [piece.rstrip() for piece in split_long(segment, budget)]
    return [fitted for piece in pieces if piece
            for fitted in _fit(with_end_mark(piece, mode), tokens, limit, budget // 2, mode)]


def bert_tokens(models: Models, text: str, language: str, version: str) -> int:
    """The most positions one BERT call on this text takes ([CLS], [SEP] included); 0 without Chinese."""
    return max((models.bert.token_count(seg.norm_text) for seg in phones(text, language, version).segments
                if models.bert.reads(seg.lang)), default=0)


def phones(text: str, language: str, version: str):
    """The frontend's `Phones` of the text; its failures on odd input are InputErrors."""
    from GPT_SoVITS.text.routing import get_phones

    try:
        return get_phones(text, language_mode(language), version)
    except InputError:
        raise
    except Exception as exc:  # a frontend failure on odd input is the user's text, not a server fault
        raise InputError(f"文本处理失败 (text frontend failed on {text!r}): {exc}") from exc


def text_features(models: Models, text: str, language: str, version: str) -> TextFeatures:
    return features_of_phones(models, text, phones(text, language, version))


def features_of_phones(models: Models, text: str, result) -> TextFeatures:
    """The model part of `text_features` (BERT), given the frontend's `phones` of `text`: the caller may
    run the frontend, pure Python, without holding the models."""
    if not result.phone_ids:
        raise InputError(f"文本没有可发音的内容 (nothing pronounceable in {text!r})")
    try:
        berts = [models.bert.features(seg.lang, seg.norm_text, seg.word2ph, len(seg.phone_ids))
                 for seg in result.segments]
    except TextTooLongError as exc:  # a prompt text, or a segment `fit_to_bert` did not see
        raise too_long_error(exc.limit, exc.tokens) from exc
    except ValueError as exc:  # text the tokenizer does not split per character: odd input, as above
        raise InputError(f"文本处理失败 (BERT features failed on {text!r}): {exc}") from exc
    return TextFeatures(result.phone_ids, np.concatenate(berts, axis=1).astype(np.float32), result.norm_text)
