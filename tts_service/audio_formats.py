"""Output formats: int16 mono samples -> wav, mp3, opus, aac, flac or raw pcm, whole or as a stream.

Encoding is ffmpeg's (or libsndfile's for a whole WAV): no encoder is written here. Whole files go
through one ffmpeg run; streams through one ffmpeg process per response, fed segment by segment on
stdin while its stdout is sent on, so encoded bytes leave as soon as ffmpeg emits them. A streamed WAV
is ffmpeg's WAV on a pipe: the RIFF and data sizes are 0xFFFFFFFF ("length unknown"), which players
and decoders (libsndfile, ffmpeg, browsers) read up to the end of the stream.

pcm is the samples themselves: 16-bit signed little-endian, mono, at the model's rate (32 kHz for
v1/v2/v2Pro), no header. opus is Ogg Opus, which exists only at 48 kHz: ffmpeg resamples.
"""
from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
from dataclasses import dataclass
from typing import AsyncIterator

import numpy as np
import soundfile as sf


@dataclass(frozen=True)
class AudioFormat:
    name: str
    media_type: str
    extension: str
    ffmpeg_output: tuple[str, ...] | None  # codec and container flags; None: raw samples


# Bitrates are for speech: far above what a 32 kHz mono voice needs to sound clean.
FORMATS: dict[str, AudioFormat] = {f.name: f for f in (
    AudioFormat("wav", "audio/wav", "wav", ("-c:a", "pcm_s16le", "-f", "wav")),
    AudioFormat("mp3", "audio/mpeg", "mp3", ("-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3")),
    # one Ogg page per 100 ms instead of ffmpeg's 1 s, so a stream does not hold audio back
    AudioFormat("opus", "audio/ogg", "opus", ("-c:a", "libopus", "-b:a", "48k", "-page_duration", "100000",
                                              "-f", "ogg")),
    AudioFormat("aac", "audio/aac", "aac", ("-c:a", "aac", "-b:a", "96k", "-f", "adts")),
    AudioFormat("flac", "audio/flac", "flac", ("-c:a", "flac", "-f", "flac")),
    AudioFormat("pcm", "audio/pcm", "pcm", None),
)}
DEFAULT_FORMAT = "wav"
STREAM_READ_BYTES = 16384


class EncodingError(RuntimeError):
    """ffmpeg is missing or failed."""


def check_format(name: str | None, default: str = DEFAULT_FORMAT) -> AudioFormat | None:
    """The format called `name` (case-insensitive; empty -> default), or None if there is none."""
    return FORMATS.get((name or default).strip().lower())


def format_list() -> str:
    return ", ".join(FORMATS)


def pcm_bytes(samples: np.ndarray) -> bytes:
    return np.ascontiguousarray(samples, dtype="<i2").tobytes()


def _ffmpeg_command(fmt: AudioFormat, rate: int) -> list[str]:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise EncodingError(f"ffmpeg is not installed: it is needed for {fmt.name} output "
                            "(apt-get install ffmpeg; wav and pcm work without it)")
    # Input: (almost) no probing: by default ffmpeg reads seconds of audio before its first output.
    # Output: -flush_packets writes every packet at once; -bitexact leaves out encoder tags / LIST chunk.
    return [ffmpeg, "-nostdin", "-v", "error", "-probesize", "32", "-analyzeduration", "0",
            "-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0",
            "-vn", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", "-flush_packets", "1",
            *fmt.ffmpeg_output, "pipe:1"]


def encode(samples: np.ndarray, rate: int, fmt: AudioFormat) -> bytes:
    """A whole file. WAV has exact sizes in its header (libsndfile); the others are ffmpeg's."""
    if fmt.ffmpeg_output is None:
        return pcm_bytes(samples)
    if fmt.name == "wav":
        buffer = io.BytesIO()
        sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
        return buffer.getvalue()
    done = subprocess.run(_ffmpeg_command(fmt, rate), input=pcm_bytes(samples), capture_output=True)
    if done.returncode != 0:
        raise EncodingError(f"ffmpeg failed to encode {fmt.name}: {done.stderr.decode(errors='replace')[-500:]}")
    return done.stdout


async def encode_stream(chunks: AsyncIterator[np.ndarray], rate: int, fmt: AudioFormat) -> AsyncIterator[bytes]:
    """Encoded bytes as the chunks come in. An error in `chunks` is raised here after killing the encoder,
    so a failed synthesis never looks like a complete (shorter) file."""
    if fmt.ffmpeg_output is None:
        async for samples in chunks:
            yield pcm_bytes(samples)
        return
    process = await asyncio.create_subprocess_exec(
        *_ffmpeg_command(fmt, rate), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    feeder = asyncio.create_task(_feed(process, chunks))
    try:
        while data := await process.stdout.read(STREAM_READ_BYTES):
            yield data
        await feeder  # re-raises a synthesis error
        stderr = await process.stderr.read()
        if await process.wait() != 0:
            raise EncodingError(f"ffmpeg failed to encode {fmt.name}: {stderr.decode(errors='replace')[-500:]}")
    except Exception:
        _stop(process, feeder)
        await process.wait()
        raise
    except BaseException:
        # The client went away (cancellation, generator closed): stop without awaiting, since a
        # cancelled task may not await any more; the event loop reaps the process.
        _stop(process, feeder)
        raise


def _stop(process: asyncio.subprocess.Process, feeder: asyncio.Task) -> None:
    feeder.cancel()
    if process.returncode is None:
        process.kill()


async def _feed(process: asyncio.subprocess.Process, chunks: AsyncIterator[np.ndarray]) -> None:
    try:
        async for samples in chunks:
            process.stdin.write(pcm_bytes(samples))
            await process.stdin.drain()
    except BaseException:
        if process.returncode is None:
            process.kill()  # ends stdout at once: the reader sees EOF, then this error
        raise
    process.stdin.close()
