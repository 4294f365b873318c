"""The id rules, in one place (voice models, categories, tasks, users).

Ids become folder and file names, so they are refused rather than rewritten: the seed's silent
rewriting let a blank id point at `audio/` itself and made `a.b` and `a_b` collide.
"""
from __future__ import annotations

import re

from ..envelope import BAD_PARAM, ApiError

MAX_ID_LENGTH = 64
# Resource ids (model_id, category_id, task_id): ASCII letters, digits, `_` and `-`.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,%d}" % MAX_ID_LENGTH)
# User ids may be names in any script (张三), still with no separator, dot or space.
USER_ID_PATTERN = re.compile(r"[\w-]{1,%d}" % MAX_ID_LENGTH)


def is_valid_id(value: object, pattern: re.Pattern = ID_PATTERN) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def check_id(value: object, field: str, pattern: re.Pattern = ID_PATTERN) -> str:
    """Return `value` unchanged if it is a valid id, else raise ApiError code 3 naming the field."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ApiError(BAD_PARAM, f"缺少 {field}")
    if not is_valid_id(value, pattern):
        allowed = "字母、数字、_ 和 -" if pattern is ID_PATTERN else "文字、数字、_ 和 -"
        raise ApiError(BAD_PARAM, f"{field} 不合法：只能包含{allowed}，长度 1-{MAX_ID_LENGTH}")
    return value  # type: ignore[return-value]


def check_user_id(value: object, field: str = "user_id") -> str:
    return check_id(value, field, USER_ID_PATTERN)
