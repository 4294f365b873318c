"""A voice model's training data (微调数据): upload clips with transcripts, a long recording cut at
silences, or a zip with a .list; list them, listen to one, edit a transcript, delete a clip."""
from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from .. import deps
from ..envelope import BAD_PARAM, ApiError, ok
from ..limits import check_fields, check_text
from ..settings import Settings
from ..storage.training_archive import ArchiveLimits, read_archive
from ..storage.training_data import NewClip
from ..storage.uploads import read_upload
from ..storage.voice_models import VoiceModelStore

router = APIRouter(tags=["音模管理"])
LANGUAGE_HELP = "zh/中文, en/英文, ja/日文 (or the .list's ZH, EN, JA)"


class ClipEdit(BaseModel):
    text: str | None = Field(None, description="the transcript", examples=["今天天气真不错。"])
    language: str | None = Field(None, description=LANGUAGE_HELP)


def _archive_limits(settings: Settings) -> ArchiveLimits:
    # the clips, the .list, and as many stray files (a folder zipped on macOS carries one per file)
    return ArchiveLimits(max_members=2 * settings.max_training_clips + 1, max_member_bytes=settings.max_upload_bytes,
                         max_total_bytes=settings.max_body_bytes)


@router.post("/voice-models/{model_id}/training-data", summary="上传微调数据",
             description="multipart/form-data, one of: `clips` (repeated) with `transcripts` (one per clip, same "
                         "order) and `language`; `recording` (a long recording cut at silences) with optional "
                         "`transcripts` (one per slice; without them the slices wait for theirs) and `language`; "
                         "`archive` (a zip holding a .list `path|speaker|language|text`, paths relative to the "
                         "zip, and its clips). Each clip: 0.6-54 s, not silent, not clipped, its text in its "
                         "language. All or nothing; data = {added: [clip], skipped?: [slices left out]}.")
def upload_training_data(
    model_id: str,
    clips: list[UploadFile] = File([], description="clips: WAV, MP3, FLAC, OGG, M4A, WebM or AIFF"),
    transcripts: list[str] = Form([], description="one transcript per clip (or per slice of the recording)"),
    language: str = Form("zh", description=LANGUAGE_HELP),
    recording: UploadFile | None = File(None, description="a long recording, cut at silences"),
    archive: UploadFile | None = File(None, description="a zip: one .list and its clips"),
    settings: Settings = Depends(deps.settings),
    store: VoiceModelStore = Depends(deps.voice_models),
) -> dict:
    store.require(model_id)
    check_text(language, "language", settings.max_prompt_chars)
    kinds = [name for name, given in (("clips", clips), ("recording", recording), ("archive", archive)) if given]
    if len(kinds) != 1:
        raise ApiError(BAD_PARAM, "请只上传一种训练数据：clips、recording 或 archive")
    if len(clips) > settings.max_training_clips:
        raise ApiError(BAD_PARAM, f"片段过多：{len(clips)} 个，上限 {settings.max_training_clips} 个")
    limit = settings.max_upload_bytes
    if recording is not None:
        data = read_upload(recording, "recording", limit)
        return ok(store.training.add_recording(model_id, data, recording.filename, transcripts, language))
    if archive is not None:
        found = read_archive(read_upload(archive, "archive", limit), _archive_limits(settings))
        new = [NewClip(clip.data, clip.name, clip.text, clip.language) for clip in found]
        return ok(store.training.add_clips(model_id, new, source="archive"))
    if len(transcripts) != len(clips):
        raise ApiError(BAD_PARAM, f"{len(clips)} 个片段需要 {len(clips)} 条转写文本，收到 {len(transcripts)} 条")
    new = [NewClip(read_upload(clip, "clips", limit), clip.filename, text, language)
           for clip, text in zip(clips, transcripts)]
    return ok(store.training.add_clips(model_id, new))


@router.get("/voice-models/{model_id}/training-data", summary="微调数据列表",
            description="data = {clips: [{clip_id, text, language, seconds, source, created_at, audio_url}], count, "
                        "seconds, untranscribed}")
def list_training_data(model_id: str, store: VoiceModelStore = Depends(deps.voice_models)) -> dict:
    store.require(model_id)
    return ok(store.training.list(model_id))


@router.get("/voice-models/{model_id}/training-data/{clip_id}/audio", summary="试听微调片段",
            response_class=FileResponse, description="the clip as stored: 32 kHz mono 16-bit WAV")
def training_clip_audio(model_id: str, clip_id: str, store: VoiceModelStore = Depends(deps.voice_models)):
    store.require(model_id)
    return FileResponse(store.training.audio_path(model_id, clip_id), media_type="audio/wav")


@router.patch("/voice-models/{model_id}/training-data/{clip_id}", summary="修改微调片段的转写",
              description="JSON {text?, language?}; the text is checked against the language. data = the clip.")
def edit_training_clip(model_id: str, clip_id: str, body: ClipEdit, settings: Settings = Depends(deps.settings),
                       store: VoiceModelStore = Depends(deps.voice_models)) -> dict:
    check_fields(body, settings.max_prompt_chars)
    store.require(model_id)
    if body.text is None and body.language is None:
        raise ApiError(BAD_PARAM, "没有需要修改的字段")
    return ok(store.training.edit(model_id, clip_id, body.text, body.language))


@router.delete("/voice-models/{model_id}/training-data/{clip_id}", summary="删除微调片段")
def delete_training_clip(model_id: str, clip_id: str, store: VoiceModelStore = Depends(deps.voice_models)) -> dict:
    store.require(model_id)
    store.training.delete(model_id, clip_id)
    return ok(message="deleted")
