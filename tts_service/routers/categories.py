"""Voice categories (分类): create, list (with the number of models in each), rename, delete."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from .. import deps
from ..envelope import ok
from ..limits import check_fields
from ..settings import Settings
from ..storage.categories import CategoryStore
from ..storage.voice_models import VoiceModelStore

router = APIRouter(tags=["音模管理"])


class CategoryCreate(BaseModel):
    category_id: str | None = Field(None, description="letters, digits, _ and -, 1-64 characters",
                                    examples=["cat_news"])
    category_name: str | None = Field(None, description="display name, 1-100 characters", examples=["新闻播报"])
    description: str | None = Field("", description="optional, up to 500 characters", examples=["正式、沉稳"])


class CategoryEdit(BaseModel):
    category_name: str | None = Field(None, description="new display name", examples=["新闻"])
    description: str | None = Field(None, description="new description", examples=["正式播报"])


@router.post("/voice-categories", summary="新增分类",
             description="data = the record. Duplicate id: code 2 (HTTP 409); missing id or name: code 3.")
def create_category(body: CategoryCreate, settings: Settings = Depends(deps.settings),
                    store: CategoryStore = Depends(deps.categories)) -> dict:
    check_fields(body, settings.max_prompt_chars)  # the store's own caps on names are tighter still
    return ok(store.create(body.category_id, body.category_name, body.description))


@router.get("/voice-categories", summary="分类列表",
            description="data = every category (newest first) with `model_count`, the number of voice models in it.")
def list_categories(store: CategoryStore = Depends(deps.categories),
                    models: VoiceModelStore = Depends(deps.voice_models)) -> dict:
    counts = models.count_by_category()
    return ok([{**c, "model_count": counts.get(c["category_id"], 0)} for c in store.store.read()])


@router.patch("/voice-categories/{category_id}", summary="修改分类（重命名）")
def rename_category(category_id: str, body: CategoryEdit, settings: Settings = Depends(deps.settings),
                    store: CategoryStore = Depends(deps.categories)) -> dict:
    check_fields(body, settings.max_prompt_chars)
    return ok(store.rename(category_id, body.category_name, body.description))


@router.delete("/voice-categories/{category_id}", summary="删除分类",
               description="Also removes the category from every voice model.")
def delete_category(category_id: str, store: CategoryStore = Depends(deps.categories),
                    models: VoiceModelStore = Depends(deps.voice_models)) -> dict:
    store.delete(category_id, models)
    return ok(message="deleted")
