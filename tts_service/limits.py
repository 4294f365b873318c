"""Length limits on the free text of request bodies (`max_prompt_chars`).

Every string a body carries (prompt_text, language and cut names, paths, ids, names, `instructions`,
...) is bounded by one setting, checked on the parsed model, so a field added later is covered too. The
target text is the exception: it has its own, larger limit (`max_text_chars`), checked where it is used.
"""
from __future__ import annotations

from typing import Any, Iterable

from pydantic import BaseModel

from .envelope import BAD_PARAM, ApiError

TOO_LONG = "string_above_max_length"  # the `code` in data, as in OpenAI's errors


def _longest(value: Any) -> int:
    """The longest string in a value (strings inside lists and dicts, keys included)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return max((max(_longest(k), _longest(v)) for k, v in value.items()), default=0)
    if isinstance(value, (list, tuple, set)):
        return max((_longest(v) for v in value), default=0)
    return 0


def over_limit(model: BaseModel, limit: int, exempt: Iterable[str] = ()) -> tuple[str, int] | None:
    """(field, length) of the first field of `model` holding a string longer than `limit`, or None."""
    skip = set(exempt)
    for name in type(model).model_fields:
        if name not in skip and (length := _longest(getattr(model, name, None))) > limit:
            return name, length
    return None


def too_long(field: str, length: int, limit: int) -> ApiError:
    return ApiError(BAD_PARAM, f"{field} 过长：{length} 字，上限 {limit} 字", 400,
                    {"param": field, "code": TOO_LONG, "limit": limit})


def check_text(value: str | None, field: str, limit: int) -> None:
    """One form field or query value: ApiError code 3 if longer than `limit`."""
    if value is not None and len(value) > limit:
        raise too_long(field, len(value), limit)


def check_fields(model: BaseModel, limit: int, exempt: Iterable[str] = ("text",)) -> None:
    """Every string field of a parsed body (the target text excepted): ApiError code 3 naming the first
    one longer than `limit`."""
    found = over_limit(model, limit, exempt)
    if found is not None:
        raise too_long(found[0], found[1], limit)
