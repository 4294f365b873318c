"""Voice models (音模): `voice_models.json` (newest first) plus one folder `audio/<model_id>/` each,
holding the avatar, the clip as uploaded and `refer.wav` (32 kHz mono, what the pipeline reads).

A model's files are assembled and checked in a staging folder, then moved in with one rename while
the store is locked, so a refused or failed request changes neither the store nor audio/.
Records given to clients carry URLs relative to the service, never server paths.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .. import vocab
from ..envelope import BAD_PARAM, RESOURCE, ApiError
from ..settings import Settings
from .categories import CategoryStore, clean_name, clean_text
from .ids import check_id
from .json_store import JsonStore
from .uploads import NORMALISED_CLIP, ClipDecoder, image_suffix, prepare_clip
from .training_data import TrainingData
from .voice_weights import owned_files, pipeline_weights, public_weights

GENDERS = {1: "男", 2: "女"}


@dataclass
class Upload:
    """A file already read (bounded) from the request."""

    data: bytes
    filename: str | None = None


def check_gender(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in GENDERS:
        raise ApiError(BAD_PARAM, "gender 只能是 1（男）或 2（女）")
    return value


def check_language(value: object) -> str:
    if not isinstance(value, str) or vocab.language_code(value) is None:
        raise ApiError(BAD_PARAM, "语言不支持")
    return value


def clean_categories(values: list | None) -> list[str]:
    """Valid ids, de-duplicated in their order; blank entries are dropped (an empty form part)."""
    if values is None:
        return []
    if not isinstance(values, list):
        raise ApiError(BAD_PARAM, "categories 必须是分类 ID 的数组")
    seen: list[str] = []
    for value in values:
        if isinstance(value, str) and not value.strip():
            continue
        cid = check_id(value, "categories")
        if cid not in seen:
            seen.append(cid)
    return seen


class VoiceModelStore:
    def __init__(self, settings: Settings, categories: CategoryStore):
        self.settings = settings
        self.store = JsonStore(settings.voice_models_file)
        self.categories = categories
        self.decoder = ClipDecoder(settings.max_decodes)  # the app's one bound on clips decoded at once
        self.training = TrainingData(settings, self.decoder)  # each voice's fine-tuning clips

    # ---- reading ---------------------------------------------------------------------------
    def get(self, model_id: str) -> dict | None:
        return next((m for m in self.store.read() if m["model_id"] == model_id), None)

    def require(self, model_id: str) -> dict:
        record = self.get(check_id(model_id, "model_id"))
        if record is None:
            raise ApiError(RESOURCE, "音模不存在", 404)
        return record

    def folder(self, model_id: str) -> Path:
        return self.settings.audio_dir / model_id

    def clip_path(self, record: dict) -> Path:
        return self.folder(record["model_id"]) / NORMALISED_CLIP

    def private_folder(self, model_id: str) -> Path:
        """voices/<model_id>/: training data, fine-tune runs and the voice's own weights (never served)."""
        return self.settings.voices_dir / model_id

    def weights(self, record: dict):
        """The voice's own weights for a synthesis (`VoiceWeights`), or None: the default pair."""
        return pipeline_weights(record, self.settings)

    def public(self, record: dict) -> dict:
        base, version = f"/audio/{record['model_id']}", record.get("updated_at", record["created_at"])
        return {
            "model_id": record["model_id"], "model_name": record["model_name"], "gender": record["gender"],
            "prompt_text": record.get("prompt_text", ""), "prompt_language": record.get("prompt_language", "all_zh"),
            "avatar_url": f"{base}/{record['avatar_file']}?v={version}",
            "refer_wav_url": f"{base}/{NORMALISED_CLIP}?v={version}",
            "refer_upload_url": f"{base}/{record['refer_upload_file']}?v={version}",
            "clip_seconds": record.get("clip_seconds"),
            "categories": list(record.get("categories", [])),
            "weights": public_weights(record, self.settings),
            "created_at": record["created_at"], "updated_at": version,
        }

    def list(self, page: int, page_size: int, name: str | None = None,
             category: str | None = None) -> tuple[list[dict], int]:
        items = self.store.read()
        if name and name.strip():
            needle = name.strip().lower()
            items = [m for m in items if needle in m["model_name"].lower()]
        if category and category.strip():
            items = [m for m in items if category.strip() in m.get("categories", [])]
        start = (page - 1) * page_size
        return [self.public(m) for m in items[start:start + page_size]], len(items)

    def count_by_category(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for model in self.store.read():
            for cid in model.get("categories", []):
                counts[cid] = counts.get(cid, 0) + 1
        return counts

    # ---- writing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _staging(self):
        self.settings.staging_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=self.settings.staging_dir, prefix="model-"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _clip(self, clip: Upload, folder: Path) -> tuple[str, float]:
        return prepare_clip(clip.data, clip.filename, folder, self.decoder)

    def create(self, model_id: object, model_name: object, gender: object, prompt_text: object,
               prompt_language: object, categories: list | None, avatar: Upload, clip: Upload) -> dict:
        model_id = check_id(model_id, "model_id")
        now = int(time.time())
        record = {
            "model_id": model_id,
            "model_name": clean_name(model_name, "model_name"),
            "gender": check_gender(gender),
            "prompt_text": clean_text(prompt_text, "prompt_text", self.settings.max_prompt_chars),
            "prompt_language": check_language(prompt_language or "all_zh"),
            "categories": clean_categories(categories),
            "created_at": now, "updated_at": now,
        }
        self.categories.require(record["categories"])
        if self.get(model_id) is not None:  # early answer; checked again under the lock
            raise ApiError(RESOURCE, "音模标识已存在", 409)
        with self._staging() as staging:
            files = staging / "files"
            files.mkdir()
            record["avatar_file"] = "avatar" + image_suffix(avatar.data)
            (files / record["avatar_file"]).write_bytes(avatar.data)
            record["refer_upload_file"], record["clip_seconds"] = self._clip(clip, files)
            with self.categories.locked(), self.store.locked():
                self.categories.require(record["categories"])
                items = self.store.read()
                if any(m["model_id"] == model_id for m in items):
                    raise ApiError(RESOURCE, "音模标识已存在", 409)
                target = self.folder(model_id)
                if target.exists():  # left by a crash between rename and store write: not a model
                    shutil.rmtree(target)
                target.parent.mkdir(parents=True, exist_ok=True)
                files.rename(target)
                try:
                    self.store.write([record, *items])
                except BaseException:
                    shutil.rmtree(target, ignore_errors=True)
                    raise
        return self.public(record)

    def update(self, model_id: str, fields: dict, avatar: Upload | None = None, clip: Upload | None = None) -> dict:
        """Edit name, gender, prompt text/language, avatar and/or clip; untouched fields stay."""
        self.require(model_id)
        changes: dict = {}
        if fields.get("model_name") is not None:
            changes["model_name"] = clean_name(fields["model_name"], "model_name")
        if fields.get("gender") is not None:
            changes["gender"] = check_gender(fields["gender"])
        if fields.get("prompt_text") is not None:
            changes["prompt_text"] = clean_text(fields["prompt_text"], "prompt_text", self.settings.max_prompt_chars)
        if fields.get("prompt_language") is not None:
            changes["prompt_language"] = check_language(fields["prompt_language"])
        if fields.get("categories") is not None:
            changes["categories"] = clean_categories(fields["categories"])
            self.categories.require(changes["categories"])
        if not changes and avatar is None and clip is None:
            raise ApiError(BAD_PARAM, "没有需要修改的字段")
        with self._staging() as staging:
            if avatar is not None:
                changes["avatar_file"] = "avatar" + image_suffix(avatar.data)
                (staging / changes["avatar_file"]).write_bytes(avatar.data)
            if clip is not None:
                changes["refer_upload_file"], changes["clip_seconds"] = self._clip(clip, staging)
            with self.categories.locked(), self.store.locked():
                if "categories" in changes:
                    self.categories.require(changes["categories"])
                items = self.store.read()
                record = next((m for m in items if m["model_id"] == model_id), None)
                if record is None:
                    raise ApiError(RESOURCE, "音模不存在", 404)
                old_files = {record["avatar_file"], record["refer_upload_file"]}
                for name in [p.name for p in staging.iterdir()]:
                    (staging / name).replace(self.folder(model_id) / name)
                record.update(changes, updated_at=max(int(time.time()), record.get("updated_at", 0) + 1))
                self.store.write(items)
                for stale in old_files - {record["avatar_file"], record["refer_upload_file"]}:
                    (self.folder(model_id) / stale).unlink(missing_ok=True)
        return self.public(record)

    def set_categories(self, model_id: str, categories: list | None) -> dict:
        cleaned = clean_categories(categories)
        self.categories.require(cleaned)  # the seed checks the categories before the model
        return self.update(model_id, {"categories": cleaned})

    def forget_category(self, category_id: str) -> None:
        """Drop one category from every model; the caller holds the categories lock."""
        with self.store.locked():
            items = self.store.read()
            touched = [m for m in items if category_id in m.get("categories", [])]
            for model in touched:
                model["categories"] = [c for c in model["categories"] if c != category_id]
            if touched:
                self.store.write(items)

    def set_weights(self, model_id: str, weights: dict | None) -> dict:
        """Switch the voice to `weights` (a record's `weights`, see voice_weights.py; None: the default pair)
        in one store write; the files the old weights owned and the new ones do not are deleted after."""
        with self.store.locked():
            items = self.store.read()
            record = next((m for m in items if m["model_id"] == model_id), None)
            if record is None:
                raise ApiError(RESOURCE, "音模不存在", 404)
            stale = owned_files(record.get("weights"), self.settings) - owned_files(weights, self.settings)
            record["weights"] = weights
            record["updated_at"] = max(int(time.time()), record.get("updated_at", 0) + 1)
            self.store.write(items)
        for path in stale:
            path.unlink(missing_ok=True)
        return self.public(record)

    def delete(self, model_id: str) -> None:
        """The record, its served folder audio/<id>/ and its private one voices/<id>/ (its own weights too)."""
        check_id(model_id, "model_id")
        self.settings.staging_dir.mkdir(parents=True, exist_ok=True)
        trash = self.settings.staging_dir / f"deleted-{model_id}-{uuid.uuid4().hex[:8]}"
        with self.store.locked():
            items = self.store.read()
            kept = [m for m in items if m["model_id"] != model_id]
            if len(kept) == len(items):
                raise ApiError(RESOURCE, "音模不存在", 404)
            self.store.write(kept)
            trash.mkdir()
            for folder in (self.folder(model_id), self.private_folder(model_id)):
                if folder.exists():
                    folder.rename(trash / folder.parent.name)
            owned = owned_files(next(m for m in items if m["model_id"] == model_id).get("weights"), self.settings)
        for path in owned:  # owned weights live in the private folder; this covers any left outside it
            path.unlink(missing_ok=True)
        shutil.rmtree(trash, ignore_errors=True)
