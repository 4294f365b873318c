"""Which reference clip a reference-style request means.

The reference reads any path on its disk. Here `ref_audio_path` / `refer_wav_path` is either a voice
model id (its clip, transcript and language) or a clip inside the folders the operator allowed (the
data dir's audio/ and --ref-audio-dirs; `schemas.check_ref_path` has the last word). A relative path
is tried against the data dir, then each allowed folder, so `ref.wav` finds `<ref-audio-dir>/ref.wav`.
Some clients lower-case every setting (AstrBot), so when nothing matches exactly, a voice id and the
part of a path below an allowed folder are matched case-insensitively (one match only).

The default reference (api.py's -dr/-dt/-dl, set again by /change_refer or /set_refer_audio) is kept
per process, as in the reference; --default-voice gives its starting value.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..envelope import ApiError
from ..schemas import check_ref_path, is_file
from ..settings import Settings
from ..storage.ids import is_valid_id
from ..storage.voice_models import VoiceModelStore
from .errors import bad


@dataclass(frozen=True)
class Voice:
    """A resolved reference: a voice model, or a clip path (real, inside an allowed folder)."""

    model_id: str | None = None
    clip: str | None = None
    prompt_text: str = ""  # the model's transcript, or the one given with a clip
    prompt_language: str | None = None


def find_model(raw: str, models: VoiceModelStore) -> dict | None:
    if not is_valid_id(raw):
        return None
    record = models.get(raw)
    if record is not None:
        return record
    records, _ = models.list(1, 10**9)
    same = [r for r in records if r["model_id"].lower() == raw.lower()]
    return models.get(same[0]["model_id"]) if len(same) == 1 else None


def _roots(settings: Settings) -> list[Path]:
    return [settings.audio_dir.resolve(), *(Path(p).resolve() for p in settings.ref_audio_dirs)]


def _candidates(raw: str, settings: Settings) -> list[Path]:
    path = Path(raw).expanduser()
    if path.is_absolute():
        return [path]
    return [Path(settings.data_dir) / path, *(root / path for root in _roots(settings))]


def _inside(path: Path, roots: list[Path]) -> bool:
    real = Path(os.path.realpath(path))
    return any(real == root or root in real.parents for root in roots)


def _match_case(path: Path, roots: list[Path]) -> Path | None:
    """`path` with the part below an allowed folder matched case-insensitively, if exactly one file fits.
    Only folders inside the allowed ones are listed."""
    text = os.path.normpath(path)
    for root in roots:
        prefix = str(root).lower() + os.sep
        if not text.lower().startswith(prefix):
            continue
        found = root
        for part in text[len(prefix):].split(os.sep):
            try:
                names = [entry.name for entry in os.scandir(found) if entry.name.lower() == part.lower()]
            except OSError:
                return None
            if len(names) != 1:
                return None
            found = found / names[0]
        return found if is_file(found) else None
    return None


def find_clip(raw: str, settings: Settings) -> str:
    """The real path of the clip `raw` names, or a 400 saying why (outside the folders, or absent)."""
    if "\x00" in raw:  # no file has such a name, and path functions refuse it with ValueError
        raise bad("参考音频路径不合法")
    roots, candidates = _roots(settings), _candidates(raw, settings)
    for candidate in candidates:
        if _inside(candidate, roots) and is_file(candidate):
            return check_ref_path(str(candidate), settings)
    for candidate in candidates:
        matched = _match_case(candidate, roots)
        if matched is not None:
            return check_ref_path(str(matched), settings)
    try:
        return check_ref_path(str(candidates[0]), settings)  # raises, with the reason
    except ApiError as exc:
        reason = "不存在" if _inside(candidates[0], roots) else "不在允许的目录内（数据目录的 audio/ 或 --ref-audio-dirs）"
        raise bad(f"参考音频{reason}，也不是音模 ID：{raw}") from exc


def resolve(raw: str, settings: Settings, models: VoiceModelStore, prompt_text: str | None = None,
            prompt_language: str | None = None) -> Voice:
    """`raw` (a voice model id or a clip path) with the prompt given alongside it; blanks are the model's."""
    record = find_model(raw.strip(), models)
    if record is not None:
        return Voice(model_id=record["model_id"], prompt_text=prompt_text or record.get("prompt_text", ""),
                     prompt_language=prompt_language or record.get("prompt_language"))
    return Voice(clip=find_clip(raw.strip(), settings), prompt_text=prompt_text or "",
                 prompt_language=prompt_language)


def resolve_all(paths: list[str], settings: Settings, models: VoiceModelStore, limit: int) -> list[str]:
    """Clip paths for aux_ref_audio_paths / inp_refs (a voice model gives its clip)."""
    if len(paths) > limit:
        raise bad(f"辅助参考音频过多：{len(paths)} 个，上限 {limit} 个")
    clips = []
    for raw in paths:
        record = find_model(raw.strip(), models)
        clips.append(str(models.clip_path(record)) if record is not None else find_clip(raw.strip(), settings))
    return clips


@dataclass(frozen=True)
class DefaultReference:
    ref: str  # as given: a voice model id or a clip path, resolved again at each use
    prompt_text: str | None = None
    prompt_language: str | None = None


class Defaults:
    """The process's default reference; set whole, read whole."""

    def __init__(self, settings: Settings):
        self._lock = threading.Lock()
        self._value = DefaultReference(settings.default_voice) if settings.default_voice else None

    def get(self) -> DefaultReference | None:
        with self._lock:
            return self._value

    def set(self, value: DefaultReference) -> None:
        with self._lock:
            self._value = value
