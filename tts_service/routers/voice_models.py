"""Voice models (音模): create (avatar + reference clip), list, get, edit, delete, set categories."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel, Field

from .. import deps
from ..envelope import ok, paged
from ..limits import check_fields, check_text
from ..settings import Settings
from ..storage.uploads import read_upload
from ..storage.voice_models import Upload, VoiceModelStore
from ..storage.voice_weights import record_weights
from .models import check_weight_file

router = APIRouter(tags=["音模管理"])

GENDER_HELP = "1 = 男, 2 = 女"
LANGUAGE_HELP = "all_zh/中文, en/英文, all_ja/日文, zh/中英混合, ja/日英混合, auto/多语种混合"
CLIP_HELP = "reference clip, 3-10 s after decoding: WAV, MP3, FLAC, OGG (Vorbis/Opus), M4A/AAC, WebM/MKA or AIFF"


class CategoriesBody(BaseModel):
    categories: list[str] = Field(default_factory=list, description="category ids; [] clears them",
                                  examples=[["cat_news"]])


def _check_texts(settings: Settings, **fields: str | list[str] | None) -> None:
    """Every text field of the form, before any upload is read or anything is stored."""
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            check_text(item, name, settings.max_prompt_chars)


def _read(upload: UploadFile | None, field: str, settings: Settings) -> Upload | None:
    if upload is None:
        return None
    return Upload(read_upload(upload, field, settings.max_upload_bytes), upload.filename)


@router.post("/voice-models", summary="新增音模",
             description="multipart/form-data. data = the record (URLs are relative to the service).")
def create_voice_model(
    model_name: str | None = Form(None, description="display name (required)", examples=["小云"]),
    model_id: str | None = Form(None, description="letters, digits, _ and -, 1-64 (required)", examples=["xiaoyun"]),
    gender: int | None = Form(None, description=GENDER_HELP + " (required)", examples=[2]),
    prompt_text: str = Form("", description="transcript of the clip; may be empty", examples=["今天天气真不错。"]),
    prompt_language: str = Form("all_zh", description=LANGUAGE_HELP),
    categories: list[str] = Form([], description="category id; repeat the field for several"),
    avatar: UploadFile | None = File(None, description="image: PNG, JPEG, GIF, WEBP or BMP (required)"),
    refer_wav: UploadFile | None = File(None, description=CLIP_HELP + " (required)"),
    settings: Settings = Depends(deps.settings),
    store: VoiceModelStore = Depends(deps.voice_models),
) -> dict:
    from ..envelope import BAD_PARAM, ApiError

    _check_texts(settings, model_name=model_name, model_id=model_id, prompt_text=prompt_text,
                 prompt_language=prompt_language, categories=categories)
    if gender is None:
        raise ApiError(BAD_PARAM, "缺少 gender")
    image = _read(avatar, "avatar", settings) or read_upload(None, "avatar", 0)
    clip = _read(refer_wav, "refer_wav", settings) or read_upload(None, "refer_wav", 0)
    return ok(store.create(model_id, model_name, gender, prompt_text, prompt_language, categories, image, clip))


@router.get("/voice-models", summary="音模列表", description="Paged, newest first; filters combine.")
def list_voice_models(
    page: int = Query(1, description="from 1; smaller values mean 1"),
    page_size: int = Query(10, description="1-100; values outside are clamped"),
    name: str | None = Query(None, description="case-insensitive part of model_name"),
    category: str | None = Query(None, description="a category id"),
    store: VoiceModelStore = Depends(deps.voice_models),
) -> dict:
    page, page_size = max(page, 1), min(max(page_size, 1), 100)
    items, total = store.list(page, page_size, name, category)
    return paged(items, total, page, page_size)


@router.get("/voice-models/{model_id}", summary="音模详情")
def get_voice_model(model_id: str, store: VoiceModelStore = Depends(deps.voice_models)) -> dict:
    return ok(store.public(store.require(model_id)))


@router.patch("/voice-models/{model_id}", summary="修改音模",
              description="multipart/form-data; send only what changes. A new clip is checked like on create.")
def edit_voice_model(
    model_id: str,
    model_name: str | None = Form(None, examples=["小云（新）"]),
    gender: int | None = Form(None, description=GENDER_HELP),
    prompt_text: str | None = Form(None, description="new transcript; an empty string clears it"),
    prompt_language: str | None = Form(None, description=LANGUAGE_HELP),
    avatar: UploadFile | None = File(None, description="new avatar image"),
    refer_wav: UploadFile | None = File(None, description="new " + CLIP_HELP),
    settings: Settings = Depends(deps.settings),
    store: VoiceModelStore = Depends(deps.voice_models),
) -> dict:
    _check_texts(settings, model_name=model_name, prompt_text=prompt_text, prompt_language=prompt_language)
    fields = {"model_name": model_name, "gender": gender, "prompt_text": prompt_text,
              "prompt_language": prompt_language}
    return ok(store.update(model_id, fields, _read(avatar, "avatar", settings), _read(refer_wav, "refer_wav", settings)))


@router.delete("/voice-models/{model_id}", summary="删除音模", description="Removes the record and audio/<model_id>/.")
def delete_voice_model(model_id: str, store: VoiceModelStore = Depends(deps.voice_models)) -> dict:
    store.delete(model_id)
    return ok(message="deleted")


@router.post("/voice-models/{model_id}/categories", summary="设置音模分类",
             description="Replaces the model's categories; data = the updated record.")
def set_voice_model_categories(model_id: str, body: CategoriesBody,
                               settings: Settings = Depends(deps.settings),
                               store: VoiceModelStore = Depends(deps.voice_models)) -> dict:
    check_fields(body, settings.max_prompt_chars)
    return ok(store.set_categories(model_id, body.categories))


class WeightsBody(BaseModel):
    gpt_path: str | None = Field(None, description="GPT (s1) .ckpt on the server; null: the default pair's")
    sovits_path: str | None = Field(None, description="SoVITS (s2 generator) .pth on the server; null: the default "
                                                      "pair's")


@router.put("/voice-models/{model_id}/weights", summary="设置音模自己的权重",
            description="Synthesis with this voice uses these GPT/SoVITS files (loaded on first use, kept in the "
                        "--voice-weights-cache); both null: back to the default pair. Files a fine-tune made for "
                        "the voice and no longer used are deleted. data = the updated record.")
def set_voice_model_weights(model_id: str, body: WeightsBody, settings: Settings = Depends(deps.settings),
                            store: VoiceModelStore = Depends(deps.voice_models)) -> dict:
    check_fields(body, settings.max_prompt_chars)
    store.require(model_id)
    files = [check_weight_file(path, field) for path, field in ((body.gpt_path, "gpt_path"),
                                                                  (body.sovits_path, "sovits_path"))]
    gpt, sovits = (None if path is None else Path(path).expanduser().resolve() for path in files)
    return ok(store.set_weights(model_id, record_weights(gpt, sovits, False, settings)))
