"""Decoding an uploaded reference clip: audio only, and never more of it than the 3-10 s rule can use.

An upload is hostile until decoded. Left to itself ffmpeg picks any of its demuxers by content, so an
HLS playlist or a concat script saved as `clip.wav` makes it open the files it names (the server's own
files, served back as the voice's clip); and a few MB of compressed silence decode to gigabytes. So:

- the container is recognised here from its first bytes, against an allow-list of audio formats, and
  ffmpeg is told to use exactly that demuxer (`-f`, `-format_whitelist`) and to open nothing but the
  file itself (`-protocol_whitelist file`): playlists, concat scripts, image sequences, lavfi and
  nested references are never opened;
- at most MAX_CLIP_SECONDS + a margin is decoded (`-t`), the output is read with a byte cap (the
  process is killed past it) and a timeout;
- ClipDecoder bounds how many decodes run at once (settings.max_decodes); the rest wait their turn.

Without ffmpeg, libsndfile reads the clip (it follows no references), bounded the same way.
"""
from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
import soundfile as sf

from ..envelope import BAD_PARAM, ApiError

CLIP_SAMPLE_RATE = 32000  # what the pipeline reads (the SoVITS rate)
MIN_CLIP_SECONDS, MAX_CLIP_SECONDS = 3.0, 10.0  # the reference's rule, inclusive
CLIP_DECODE_MESSAGE = "参考音频解析失败，请上传合法的音频文件（WAV/MP3/FLAC/OGG/OPUS/M4A/WEBM）"

# A clip is decoded up to this long: enough to tell "over 10 s" from "10 s", and no further.
DECODE_MARGIN_SECONDS = 1.0
DECODE_SECONDS = MAX_CLIP_SECONDS + DECODE_MARGIN_SECONDS
DECODE_CAP_SAMPLES = int(DECODE_SECONDS * CLIP_SAMPLE_RATE)
DECODE_CAP_BYTES = DECODE_CAP_SAMPLES * 4  # float32 mono
DECODE_TIMEOUT = 60.0  # seconds; an 11 s clip decodes in well under one
MAX_INPUT_RATE = 768_000  # libsndfile path: a sample rate past any real recording is not audio

# Demuxers a clip may be read with (ffmpeg's names), recognised by sniff_format below.
ALLOWED_DEMUXERS = ("wav", "mp3", "flac", "ogg", "mov", "matroska", "aac", "aiff")
# Demuxer options that keep a container from reaching outside the file (the default, made explicit).
_DEMUXER_OPTIONS = {"mov": ["-enable_drefs", "0"]}
_ISO_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"}  # first box of an MP4/M4A/MOV
_CHUNK = 1 << 16
_SNDFILE_BLOCK = 1 << 16  # frames read at a time, so a many-channel file is mixed down in pieces


def _refuse() -> ApiError:
    return ApiError(BAD_PARAM, CLIP_DECODE_MESSAGE)


def _id3_length(head: bytes) -> int:
    """Bytes taken by an ID3v2 tag at the start of `head` (0 if none): MP3s and some FLACs carry one."""
    if len(head) < 10 or head[:3] != b"ID3" or any(b & 0x80 for b in head[6:10]):
        return 0
    size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]  # syncsafe integer
    return 10 + size + (10 if head[5] & 0x10 else 0)  # header, body, optional footer


def _sniff_head(head: bytes) -> str | None:
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska / WebM
        return "matroska"
    if head[4:8] in _ISO_BOXES:
        return "mov"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:  # ADTS: sync, layer 0
        return "aac"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:  # MPEG audio frame
        return "mp3"
    return None


def sniff_format(path: Path) -> str | None:
    """The allow-listed demuxer for this file's first bytes, or None (not one of the audio formats)."""
    with open(path, "rb") as file:
        head = file.read(12)
        skipped = 0
        for _ in range(4):  # a file may carry a few ID3 tags in a row
            tag = _id3_length(head)
            if not tag:
                break
            skipped += tag
            file.seek(skipped)
            head = file.read(12)
    kind = _sniff_head(head)
    # After an ID3 tag, what is not FLAC or ADTS is left to the MP3 demuxer (it skips junk to the first frame).
    return kind or ("mp3" if skipped else None)


def ffmpeg_command(path: Path, demuxer: str, seconds: float = DECODE_SECONDS) -> list[str]:
    """Decode `path` with exactly `demuxer`, opening only the file itself, to at most `seconds`
    of mono float32 at CLIP_SAMPLE_RATE on stdout."""
    return ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error",
            "-protocol_whitelist", "file", "-format_whitelist", demuxer, "-f", demuxer,
            *_DEMUXER_OPTIONS.get(demuxer, []), "-i", f"file:{path}",
            "-map", "0:a:0", "-vn", "-sn", "-dn", "-t", f"{seconds:g}",
            "-ac", "1", "-ar", str(CLIP_SAMPLE_RATE), "-f", "f32le", "pipe:1"]


def _read_capped(stream: BinaryIO, cap: int) -> tuple[bytes, bool]:
    """Up to `cap` bytes of `stream`; True if there was more (the caller stops the writer)."""
    data = bytearray()
    while len(data) <= cap:
        chunk = stream.read(min(_CHUNK, cap + 1 - len(data)))
        if not chunk:
            return bytes(data), False
        data += chunk
    return bytes(data[:cap]), True


def _decode_ffmpeg(path: Path, seconds: float) -> np.ndarray:
    demuxer = sniff_format(path)
    if demuxer is None:
        raise _refuse()
    process = subprocess.Popen(ffmpeg_command(path, demuxer, seconds), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        process.kill()

    timer = threading.Timer(DECODE_TIMEOUT, expire)
    timer.start()
    try:
        data, over_cap = _read_capped(process.stdout, int(seconds * CLIP_SAMPLE_RATE) * 4)
        if over_cap:
            process.kill()
        returncode = process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    if expired.is_set() or (returncode != 0 and not over_cap):
        raise _refuse()
    # Past the cap the clip is too long: what was read (DECODE_SECONDS) says so to the length check.
    samples = np.frombuffer(data[: len(data) // 4 * 4], dtype="<f4")
    if samples.size == 0:
        raise _refuse()
    return samples.astype(np.float32)


def _decode_sndfile(path: Path, seconds: float) -> np.ndarray:
    """libsndfile (no ffmpeg installed): at most `seconds` of frames read, mixed down block by block."""
    try:
        with sf.SoundFile(str(path)) as file:
            rate = file.samplerate
            if not 0 < rate <= MAX_INPUT_RATE:
                raise _refuse()
            frames = min(file.frames, int(seconds * rate))
            blocks = [block.mean(axis=1) for block in
                      file.blocks(blocksize=_SNDFILE_BLOCK, frames=frames, dtype="float32", always_2d=True)]
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError):
        raise _refuse() from None
    mono = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    if mono.size == 0:
        raise _refuse()
    if rate != CLIP_SAMPLE_RATE:
        import librosa

        mono = librosa.resample(mono, orig_sr=rate, target_sr=CLIP_SAMPLE_RATE)
    return mono[:int(seconds * CLIP_SAMPLE_RATE)].astype(np.float32)


def decode_clip(path: Path, seconds: float = DECODE_SECONDS) -> np.ndarray:
    """Mono float32 at 32 kHz, at most `seconds` of it (a reference clip: DECODE_SECONDS, more means it is
    too long; training clips and recordings decode further); ApiError code 3 for anything that is not one
    of the allowed audio formats or does not decode."""
    return _decode_ffmpeg(path, seconds) if shutil.which("ffmpeg") else _decode_sndfile(path, seconds)


class ClipDecoder:
    """decode_clip with at most `max_decodes` running at once (one per app); the others wait their turn."""

    def __init__(self, max_decodes: int):
        self._slots = threading.BoundedSemaphore(max(1, int(max_decodes)))
        self._lock = threading.Lock()
        self.running = 0
        self.waiting = 0

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        with self._lock:
            self.waiting += 1
        self._slots.acquire()
        with self._lock:
            self.waiting -= 1
            self.running += 1
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1
            self._slots.release()

    def decode(self, path: Path, seconds: float = DECODE_SECONDS) -> np.ndarray:
        with self._turn():
            return decode_clip(path, seconds)
