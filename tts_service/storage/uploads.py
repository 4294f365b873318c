"""Uploaded files: bounded reads, real-image and real-audio checks, the normalised reference clip.

Nothing here writes into audio/: callers assemble a model's files in a staging folder and move it
in one rename, so a refused upload leaves nothing behind.
"""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
from fastapi import UploadFile

from ..envelope import BAD_PARAM, ApiError

CLIP_SAMPLE_RATE = 32000  # what the pipeline reads (the SoVITS rate)
MIN_CLIP_SECONDS, MAX_CLIP_SECONDS = 3.0, 10.0  # the reference's rule, inclusive
CLIP_RANGE_MESSAGE = "参考音频需在 3~10 秒范围内"
CLIP_DECODE_MESSAGE = "参考音频解析失败，请上传合法的音频文件（WAV/MP3/OGG 等）"
# Suffixes an uploaded clip keeps when stored; anything else is stored as .bin so that it is never
# served back as HTML or script from /audio.
AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".webm",
                  ".aif", ".aiff", ".amr", ".mp4"}
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


def decode_clip(path: Path) -> np.ndarray:
    """Mono float32 samples at 32 kHz: ffmpeg if installed (any format), else libsndfile."""
    if shutil.which("ffmpeg"):
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "f32le",
               "-ac", "1", "-ar", str(CLIP_SAMPLE_RATE), "pipe:1"]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
        except subprocess.TimeoutExpired:
            raise ApiError(BAD_PARAM, CLIP_DECODE_MESSAGE) from None
        samples = np.frombuffer(done.stdout, dtype="<f4")
        if done.returncode != 0 or samples.size == 0:
            raise ApiError(BAD_PARAM, CLIP_DECODE_MESSAGE)
        return samples.astype(np.float32)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError):
        raise ApiError(BAD_PARAM, CLIP_DECODE_MESSAGE) from None
    mono = data.mean(axis=1)
    if rate != CLIP_SAMPLE_RATE:
        import librosa

        mono = librosa.resample(mono, orig_sr=rate, target_sr=CLIP_SAMPLE_RATE)
    return mono.astype(np.float32)


def check_clip_length(samples: np.ndarray) -> float:
    seconds = samples.size / CLIP_SAMPLE_RATE
    if not MIN_CLIP_SECONDS <= seconds <= MAX_CLIP_SECONDS:
        raise ApiError(BAD_PARAM, CLIP_RANGE_MESSAGE, data={"seconds": round(seconds, 3)})
    return seconds


def write_wav(path: Path, samples: np.ndarray, rate: int = CLIP_SAMPLE_RATE) -> None:
    """16-bit PCM; clipped first, so a full-scale sample does not wrap round (a seed bug)."""
    pcm = samples if samples.dtype == np.int16 else np.round(np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    sf.write(str(path), pcm, rate, subtype="PCM_16")


def prepare_clip(data: bytes, filename: str | None, folder: Path) -> tuple[str, float]:
    """Write the clip as uploaded plus `refer.wav` (32 kHz mono) into `folder`; (upload name, seconds)."""
    upload_name = "refer_upload" + clip_suffix(filename)
    (folder / upload_name).write_bytes(data)
    samples = decode_clip(folder / upload_name)
    seconds = check_clip_length(samples)
    write_wav(folder / NORMALISED_CLIP, samples)
    return upload_name, seconds


NORMALISED_CLIP = "refer.wav"
