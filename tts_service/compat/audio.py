"""The audio answer of the reference's routes: whole, or streamed in api_v2's shape.

media_type names api_v2's formats: wav, raw (16-bit little-endian mono PCM, no header), ogg (an Ogg
stream; the reference writes Vorbis, here it is Opus, which every Ogg player reads) and aac (ADTS);
mp3, flac and opus are offered as well. The Content-Type is api_v2's `audio/<media_type>`.

A streamed wav is what api_v2 sends: one 44-byte WAV header, then raw PCM as each piece is ready, so
clients that strip the first 44 bytes, and clients that save the whole body, both work. The reference's
header says "0 bytes of audio"; this one says "length unknown" (0xFFFFFFFF), which is what decoders
expect of a stream (ffmpeg's own streamed WAV, audio_formats.py), so a saved body plays in full.

Whole or streamed, a synthesis takes a slot of the service's back-pressure (admission.py) like
/synthesize: when all are taken and the queue is full, the answer is 503 with Retry-After.
"""
from __future__ import annotations

import struct
import uuid

from fastapi.responses import Response

from GPT_SoVITS.pipeline import SynthesisOptions

from ..admission import SynthesisSlots
from ..audio_formats import FORMATS, AudioFormat
from ..engine import SpeechEngine
from ..routers.synthesis import encoded
from ..streaming import streamed_audio
from .errors import bad

# api_v2's names first (its whole list), then this service's other formats.
MEDIA_TYPES: dict[str, AudioFormat] = {"wav": FORMATS["wav"], "raw": FORMATS["pcm"], "ogg": FORMATS["opus"],
                                       "aac": FORMATS["aac"], "mp3": FORMATS["mp3"], "flac": FORMATS["flac"],
                                       "opus": FORMATS["opus"]}
OPEN_LENGTH = 0xFFFFFFFF


def output_format(media_type: str) -> AudioFormat:
    fmt = MEDIA_TYPES.get(media_type)
    if fmt is None:
        raise bad(f"media_type: {media_type} is not supported (use one of {', '.join(MEDIA_TYPES)})")
    return fmt


def content_type(media_type: str) -> str:
    """api_v2's `audio/<media_type>` for its own four names; the format's usual type for the others."""
    return f"audio/{media_type}" if media_type in ("wav", "raw", "ogg", "aac") else MEDIA_TYPES[media_type].media_type


def wav_stream_header(rate: int) -> bytes:
    """The 44-byte header of a 16-bit mono PCM WAV of unknown length."""
    return (b"RIFF" + struct.pack("<I", OPEN_LENGTH) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
            + b"data" + struct.pack("<I", OPEN_LENGTH))


async def answer(engine: SpeechEngine, options: SynthesisOptions, streamed: bool, media_type: str,
                 slots: SynthesisSlots, label: str) -> Response:
    """Synthesise `options` as `media_type`, streamed or whole (pipeline errors are the caller's
    decorator's to answer, errors.answered_as)."""
    fmt, kind = output_format(media_type), content_type(media_type)
    if streamed:
        as_wav = media_type == "wav"  # api_v2's shape: a header, then the samples themselves
        return await streamed_audio(engine, options, FORMATS["pcm"] if as_wav else fmt,
                                    f"{label} {uuid.uuid4().hex[:12]} ({media_type})", slots,
                                    preamble=wav_stream_header if as_wav else None, media_type=kind)
    async with slots.hold():  # the slot covers the encoding too: both are the heavy part
        rate, samples = await slots.run(engine.synthesize, options)
        data = await encoded(samples, rate, fmt, slots)
    return Response(data, media_type=kind, headers={"X-Sample-Rate": str(rate)})
