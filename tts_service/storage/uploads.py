"""Uploaded files: bounded reads, real-image and real-audio checks, the normalised reference clip.

Nothing here writes into audio/: callers assemble a model's files in a staging folder and move it
in one rename, so a refused upload leaves nothing behind.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import soundfile as sf
from fastapi import UploadFile

from ..envelope import BAD_PARAM, ApiError
from .clip_decoding import (CLIP_DECODE_MESSAGE, CLIP_SAMPLE_RATE, DECODE_SECONDS, MAX_CLIP_SECONDS,  # noqa: F401
                            MIN_CLIP_SECONDS, ClipDecoder, decode_clip)

CLIP_RANGE_MESSAGE = "参考音频需在 3~10 秒范围内"
# Suffixes an uploaded clip keeps when stored (those of the formats clip_decoding accepts); anything
# else is stored as .bin so that it is never served back as HTML or script from /audio.
AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".webm", ".mka",
                  ".aif", ".aiff", ".mp4"}
IMAGE_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "WEBP": ".webp", "BMP": ".bmp"}
_CHUNK = 1 << 16


def read_upload(upload: UploadFile | None, field: str, limit: int) -> bytes:
    """The whole file, refusing an absent, empty or too large one (413)."""
    if upload is None:
        raise ApiError(BAD_PARAM, f"缺少文件 {field}")
    chunks, size = [], 0
    while chunk := upload.file.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ApiError(BAD_PARAM, f"{field} 文件过大（上限 {limit / 1048576:g} MB）", 413)
        chunks.append(chunk)
    if size == 0:
        raise ApiError(BAD_PARAM, f"{field} 文件为空")
    return b"".join(chunks)


def image_suffix(data: bytes) -> str:
    """The file suffix of a real raster image (decoded by Pillow), else ApiError code 3."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            kind = image.format
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        kind = None
    if kind not in IMAGE_FORMATS:
        raise ApiError(BAD_PARAM, "头像必须是图片文件（PNG/JPEG/GIF/WEBP/BMP）")
    return IMAGE_FORMATS[kind]


def clip_suffix(filename: str | None) -> str:
    suffix = Path(filename or "").suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) and suffix in AUDIO_SUFFIXES else ".bin"


def check_clip_length(samples: np.ndarray) -> float:
    seconds = samples.size / CLIP_SAMPLE_RATE
    if not MIN_CLIP_SECONDS <= seconds <= MAX_CLIP_SECONDS:
        data = {"seconds": round(seconds, 3)}
        if seconds >= DECODE_SECONDS:  # decoding stopped there: the clip is at least this long
            data["at_least"] = True
        raise ApiError(BAD_PARAM, CLIP_RANGE_MESSAGE, data=data)
    return seconds


def write_wav(path: Path, samples: np.ndarray, rate: int = CLIP_SAMPLE_RATE) -> None:
    """16-bit PCM; clipped first, so a full-scale sample does not wrap round (a seed bug)."""
    pcm = samples if samples.dtype == np.int16 else np.round(np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    sf.write(str(path), pcm, rate, subtype="PCM_16")


def prepare_clip(data: bytes, filename: str | None, folder: Path,
                 decoder: ClipDecoder | None = None) -> tuple[str, float]:
    """Write the clip as uploaded plus `refer.wav` (32 kHz mono) into `folder`; (upload name, seconds).

    `decoder` is the app's (it bounds the decodes running at once); without one the clip is decoded
    at once, still bounded in format, length and time."""
    upload_name = "refer_upload" + clip_suffix(filename)
    (folder / upload_name).write_bytes(data)
    samples = decoder.decode(folder / upload_name) if decoder else decode_clip(folder / upload_name)
    seconds = check_clip_length(samples)
    write_wav(folder / NORMALISED_CLIP, samples)
    return upload_name, seconds


NORMALISED_CLIP = "refer.wav"
