"""Voice categories (分类): `voice_categories.json`, newest first.

The link between models and categories lives on the model side (its `categories` list), as in the
seed. Whenever both stores are held, the categories lock is taken first (one fixed order: no deadlock).
"""
from __future__ import annotations

import time

from ..envelope import BAD_PARAM, RESOURCE, ApiError
from .ids import check_id
from .json_store import JsonStore
from .text import describe, refused_char

MAX_NAME = 100
MAX_DESCRIPTION = 500


def clean_text(value: object, field: str, limit: int, required: bool = False) -> str:
    """Trimmed display text; refuses non-strings, over-long values and the characters storage/text.py
    refuses in any text."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ApiError(BAD_PARAM, f"{field} 必须是字符串")
    value = value.strip()
    if required and not value:
        raise ApiError(BAD_PARAM, f"缺少 {field}")
    if len(value) > limit:
        raise ApiError(BAD_PARAM, f"{field} 过长（上限 {limit} 字）")
    _refuse_hidden(value, field, name=False)
    return value


def clean_name(value: object, field: str) -> str:
    """A required display name: clean_text's rule, and no invisible or format character, on one line."""
    value = clean_text(value, field, MAX_NAME, required=True)
    _refuse_hidden(value, field, name=True)
    return value


def _refuse_hidden(value: str, field: str, name: bool) -> None:
    refused = refused_char(value, name)
    if refused is not None:
        raise ApiError(BAD_PARAM, f"{field} 含有控制字符、不可见字符或文字方向控制字符（{describe(refused)}）")


class CategoryStore:
    def __init__(self, store: JsonStore):
        self.store = store

    def locked(self):
        return self.store.locked()

    def ids(self) -> set[str]:
        return {c["category_id"] for c in self.store.read()}

    def get(self, category_id: str) -> dict | None:
        return next((c for c in self.store.read() if c["category_id"] == category_id), None)

    def require(self, ids: list[str]) -> None:
        """ApiError code 3 naming every unknown category (the seed's message)."""
        known = self.ids()
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ApiError(BAD_PARAM, "分类不存在: " + ", ".join(unknown))

    def create(self, category_id: object, name: object, description: object = "") -> dict:
        if not (isinstance(category_id, str) and category_id.strip()) or not (isinstance(name, str) and name.strip()):
            raise ApiError(BAD_PARAM, "category_id 和 category_name 必填")
        record = {
            "category_id": check_id(category_id, "category_id"),
            "category_name": clean_name(name, "category_name"),
            "description": clean_text(description, "description", MAX_DESCRIPTION),
            "created_at": int(time.time()),
        }

        def add(items: list[dict]) -> dict:
            if any(c["category_id"] == record["category_id"] for c in items):
                raise ApiError(RESOURCE, "分类已存在", 409)
            items.insert(0, record)
            return record

        return self.store.update(add)

    def rename(self, category_id: str, name: object = None, description: object = None) -> dict:
        check_id(category_id, "category_id")
        if name is None and description is None:
            raise ApiError(BAD_PARAM, "缺少 category_name 或 description")
        changes = {}
        if name is not None:
            changes["category_name"] = clean_name(name, "category_name")
        if description is not None:
            changes["description"] = clean_text(description, "description", MAX_DESCRIPTION)

        def edit(items: list[dict]) -> dict:
            for item in items:
                if item["category_id"] == category_id:
                    item.update(changes, updated_at=int(time.time()))
                    return item
            raise ApiError(RESOURCE, "分类不存在", 404)

        return self.store.update(edit)

    def delete(self, category_id: str, models) -> None:
        """Remove the category and drop it from every model (both stores, categories lock first)."""
        check_id(category_id, "category_id")
        with self.store.locked():
            items = self.store.read()
            kept = [c for c in items if c["category_id"] != category_id]
            if len(kept) == len(items):
                raise ApiError(RESOURCE, "分类不存在", 404)
            models.forget_category(category_id)
            self.store.write(kept)
