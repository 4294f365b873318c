"""A voice model's training data: clips with their transcripts, in the voice's private folder.

    voices/<model_id>/training/clips.json     [{clip_id, text, language, seconds, source, created_at}]
    voices/<model_id>/training/clips/<clip_id>.wav   32 kHz mono 16-bit, as decoded from the upload

Each clip passes the fine-tuning preparation's own checks (GPT_SoVITS.training.prepare: duration,
silence, clipping -- `check_clip`; the transcript's language against its label -- `check_language`; the
languages its text frontend reads), decoded by the same hostile-file-safe decoder as reference clips.
An upload is all or nothing: its clips are decoded in a staging folder and moved in under the index's
lock, so a refused upload leaves nothing. A long recording is cut at silences (the reference's slicer);
its slices may come without transcripts (text ""), to be typed in one by one before training.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from GPT_SoVITS.training.prepare.audio import MAX_SECONDS, check_clip
from GPT_SoVITS.training.prepare.errors import ClipError
from GPT_SoVITS.training.prepare.listfile import FRONTEND_LANGUAGES, LANGUAGES
from GPT_SoVITS.training.prepare.text import check_language

from ..envelope import BAD_PARAM, RESOURCE, ApiError
from ..settings import Settings
from .clip_decoding import ClipDecoder
from .ids import check_id
from .json_store import JsonStore
from .uploads import clip_suffix, write_wav

TRAINING_FOLDER = "training"
LIST_FILE = "train.list"  # written for a fine-tune: the reference's .list of these clips
SPEAKER = "voice"
# This service's language labels beside the .list's (ZH, JA, EN, ...): the frontend's language of each.
SERVICE_LANGUAGES = {"all_zh": "zh", "中文": "zh", "all_ja": "ja", "日文": "ja", "英文": "en"}
LIST_LABELS = {"zh": "ZH", "ja": "JA", "en": "EN"}
LANGUAGE_MESSAGE = "language 不支持：{}（可用 zh/中文、en/英文、ja/日文）"


@dataclass(frozen=True)
class NewClip:
    data: bytes
    filename: str | None
    text: str  # "" only for slices of a recording, transcribed later
    language: str  # any accepted label


def language_code(label: object) -> str:
    """zh, ja or en for an accepted label, else ApiError."""
    code = SERVICE_LANGUAGES.get(label) or LANGUAGES.get(label) if isinstance(label, str) else None
    if code not in FRONTEND_LANGUAGES:
        raise ApiError(BAD_PARAM, LANGUAGE_MESSAGE.format(label))
    return code


def clean_transcript(text: object, name: str, language: str, limit: int, required: bool = True) -> str:
    """A transcript the .list can hold, in the language it is labelled (ApiError naming the clip)."""
    if not isinstance(text, str):
        raise ApiError(BAD_PARAM, f"片段 {name}：缺少转写文本")
    text = text.strip()
    if not text:
        if required:
            raise ApiError(BAD_PARAM, f"片段 {name}：转写文本为空", data={"clip": name})
        return ""
    if len(text) > limit:
        raise ApiError(BAD_PARAM, f"片段 {name}：转写文本过长（上限 {limit} 字）", data={"clip": name})
    if "|" in text or "\n" in text or "\r" in text:
        raise ApiError(BAD_PARAM, f"片段 {name}：转写文本不能包含 | 或换行", data={"clip": name})
    try:
        check_language(text, language, name)
    except ClipError as exc:
        raise ApiError(BAD_PARAM, str(exc), data={"clip": exc.clip}) from None
    return text


def check_audio(samples: np.ndarray, name: str) -> None:
    try:
        check_clip(samples, name)
    except ClipError as exc:
        raise ApiError(BAD_PARAM, str(exc), data={"clip": exc.clip}) from None


class TrainingData:
    def __init__(self, settings: Settings, decoder: ClipDecoder):
        self.settings, self.decoder = settings, decoder

    # ---- where -------------------------------------------------------------------------------
    def folder(self, model_id: str) -> Path:
        return self.settings.voices_dir / model_id / TRAINING_FOLDER

    def _index(self, model_id: str) -> JsonStore:
        return JsonStore(self.folder(model_id) / "clips.json")

    def audio_path(self, model_id: str, clip_id: str) -> Path:
        self._find(self._index(model_id).read(), check_id(clip_id, "clip_id"))
        return self.folder(model_id) / "clips" / f"{clip_id}.wav"

    # ---- reading -----------------------------------------------------------------------------
    def list(self, model_id: str) -> dict:
        clips = self._index(model_id).read()
        return {"clips": [self.public(model_id, clip) for clip in clips], "count": len(clips),
                "seconds": round(sum(clip["seconds"] for clip in clips), 3),
                "untranscribed": sum(1 for clip in clips if not clip["text"])}

    @staticmethod
    def public(model_id: str, clip: dict) -> dict:
        return {**clip, "audio_url": f"/voice-models/{model_id}/training-data/{clip['clip_id']}/audio"}

    @staticmethod
    def _find(clips: list[dict], clip_id: str) -> dict:
        found = next((clip for clip in clips if clip["clip_id"] == clip_id), None)
        if found is None:
            raise ApiError(RESOURCE, "训练片段不存在", 404)
        return found

    # ---- adding ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _staging(self):
        self.settings.staging_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=self.settings.staging_dir, prefix="training-"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _decode(self, data: bytes, filename: str | None, staging: Path, seconds: float) -> np.ndarray:
        upload = staging / f"upload-{uuid.uuid4().hex[:8]}{clip_suffix(filename)}"
        upload.write_bytes(data)
        try:
            return self.decoder.decode(upload, seconds)
        finally:
            upload.unlink(missing_ok=True)

    def add_clips(self, model_id: str, clips: list[NewClip], source: str = "upload") -> dict:
        """Check, decode and add clips with their transcripts (all or none); the new records."""
        limit = self.settings.max_prompt_chars
        checked = []
        for index, clip in enumerate(clips):
            name = clip.filename or f"#{index + 1}"
            language = language_code(clip.language)
            checked.append((clip, name, language, clean_transcript(clip.text, name, language, limit)))
        with self._staging() as staging:
            records = []
            for clip, name, language, text in checked:
                samples = self._decode(clip.data, clip.filename, staging, MAX_SECONDS + 1)
                check_audio(samples, name)
                records.append(self._stage(staging, samples, text, language, source))
            return self._commit(model_id, staging, records)

    def add_recording(self, model_id: str, data: bytes, filename: str | None, transcripts: list[str],
                      language: object) -> dict:
        """Cut a long recording at silences (the reference's slicer with its web UI's settings); each
        slice gets its transcript in order (none given: typed in later). Slices the checks refuse (too
        short, silent) are left out and listed in `skipped`."""
        from GPT_SoVITS.training.prepare.slicer import SliceSettings, slice_recording

        code = language_code(language)
        with self._staging() as staging:
            limit = self.settings.max_recording_seconds
            samples = self._decode(data, filename, staging, limit)
            if samples.size >= int(limit * 32000):  # decoding stops at the limit: the rest would be lost
                raise ApiError(BAD_PARAM, f"录音过长（上限 {limit:g} 秒），请分段上传")
            pieces = slice_recording(samples, SliceSettings())
            usable, skipped = [], []
            for pcm, start, end in pieces:
                audio = pcm.astype(np.float32) / 32768
                try:
                    check_clip(audio, f"{start}-{end}")
                    usable.append((pcm, audio))
                except ClipError as exc:
                    skipped.append({"start_seconds": round(start / 32000, 3), "end_seconds": round(end / 32000, 3),
                                    "reason": str(exc)})
            if not usable:
                raise ApiError(BAD_PARAM, "录音中没有可用的片段（请检查音量与静音间隔）", data={"skipped": skipped})
            if transcripts and len(transcripts) != len(usable):
                raise ApiError(BAD_PARAM, f"录音切分为 {len(usable)} 段，但给了 {len(transcripts)} 条转写文本",
                               data={"slices": len(usable), "transcripts": len(transcripts), "skipped": skipped})
            records = []
            for index, (pcm, audio) in enumerate(usable):
                text = clean_transcript(transcripts[index] if transcripts else "", f"#{index + 1}", code,
                                        self.settings.max_prompt_chars, required=bool(transcripts))
                records.append(self._stage(staging, pcm, text, code, "recording"))
            added = self._commit(model_id, staging, records)
        return {**added, "skipped": skipped}

    def _stage(self, staging: Path, samples: np.ndarray, text: str, language: str, source: str) -> dict:
        clip_id = uuid.uuid4().hex[:12]
        write_wav(staging / f"{clip_id}.wav", samples)
        return {"clip_id": clip_id, "text": text, "language": language, "seconds": round(samples.size / 32000, 3),
                "source": source, "created_at": int(time.time())}

    def _commit(self, model_id: str, staging: Path, records: list[dict]) -> dict:
        index = self._index(model_id)
        with index.locked():
            clips = index.read()
            if len(clips) + len(records) > self.settings.max_training_clips:
                raise ApiError(BAD_PARAM, f"训练片段过多：已有 {len(clips)} 个，再加 {len(records)} 个将超过上限 "
                                          f"{self.settings.max_training_clips} 个")
            target = self.folder(model_id) / "clips"
            target.mkdir(parents=True, exist_ok=True)
            for record in records:
                (staging / f"{record['clip_id']}.wav").replace(target / f"{record['clip_id']}.wav")
            index.write(clips + records)
        return {"added": [self.public(model_id, record) for record in records]}

    # ---- editing -----------------------------------------------------------------------------
    def edit(self, model_id: str, clip_id: str, text: object | None, language: object | None) -> dict:
        check_id(clip_id, "clip_id")
        index = self._index(model_id)
        with index.locked():
            clips = index.read()
            clip = self._find(clips, clip_id)
            code = language_code(language) if language is not None else clip["language"]
            clip["text"] = clean_transcript(clip["text"] if text is None else text, clip_id, code,
                                            self.settings.max_prompt_chars)
            clip["language"] = code
            index.write(clips)
        return self.public(model_id, clip)

    def delete(self, model_id: str, clip_id: str) -> None:
        check_id(clip_id, "clip_id")
        index = self._index(model_id)
        with index.locked():
            clips = index.read()
            clip = self._find(clips, clip_id)
            index.write([c for c in clips if c is not clip])
        (self.folder(model_id) / "clips" / f"{clip_id}.wav").unlink(missing_ok=True)

    # ---- for a fine-tune ---------------------------------------------------------------------
    def write_list(self, model_id: str, target: Path | None) -> int:
        """The reference's .list of every clip (absolute paths) at `target` (None: only check); the number
        of clips. ApiError when there is none, or one still without its transcript."""
        clips = self._index(model_id).read()
        if not clips:
            raise ApiError(BAD_PARAM, "还没有训练数据，请先上传片段")
        missing = [clip["clip_id"] for clip in clips if not clip["text"]]
        if missing:
            raise ApiError(BAD_PARAM, f"{len(missing)} 个训练片段还没有转写文本", data={"clips": missing})
        if target is None:
            return len(clips)
        folder = (self.folder(model_id) / "clips").resolve()
        lines = [f"{folder / (clip['clip_id'] + '.wav')}|{SPEAKER}|{LIST_LABELS[clip['language']]}|{clip['text']}"
                 for clip in clips]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return len(clips)
