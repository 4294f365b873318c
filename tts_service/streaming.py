"""Streamed synthesis: the engine's segments, each sent on (encoded) as soon as it is ready.

The first segment is synthesised before the response starts, so a request that cannot be synthesised
(unknown text, missing weights, a model load failure) still gets a proper error status. After that the
status is sent and cannot change: an error in a later segment aborts the connection (no final chunk),
which HTTP clients report as an incomplete body rather than a complete, shorter file.

Segments are computed in the synthesis threads (the engine blocks); when the client goes away, the
synthesis stops at the next segment boundary through the engine's `should_cancel`. A stream holds its
synthesis slot (admission.py) from before its first segment until its body ends or the client goes.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import AsyncIterator, Awaitable, Callable

import numpy as np
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from GPT_SoVITS.pipeline import SynthesisError, SynthesisOptions

from .admission import SynthesisSlots, release_once
from .audio_formats import AudioFormat, encode_stream
from .engine import SpeechEngine

log = logging.getLogger("tts_service.streaming")


class SegmentStream:
    """One request's segments, pulled one worker-thread step at a time, with times for the log."""

    def __init__(self, engine: SpeechEngine, options: SynthesisOptions, label: str,
                 run: Callable[..., Awaitable]):
        self.engine, self.options, self.label = engine, options, label
        self.run = run  # runs a blocking call in a synthesis thread
        self.cancelled = threading.Event()
        self.started = time.perf_counter()
        self.ready_at: list[float] = []  # seconds since the request started, per segment
        self.first_bytes_at: float | None = None
        self._segments = None
        self._first: np.ndarray | None = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    async def start(self) -> int:
        """Synthesise the first segment (raising SynthesisError); return the sample rate."""
        rate, self._segments = await self.run(self.engine.stream, self.options, self.cancelled.is_set)
        self._first = await self._next()
        if self._first is None:
            raise SynthesisError("合成结果为空 (no audio was produced)")
        return rate

    async def _next(self) -> np.ndarray | None:
        chunk = await self.run(next, self._segments, None)
        if chunk is not None:
            self.ready_at.append(self.elapsed())
            log.info("%s: segment %d ready at %.3f s", self.label, len(self.ready_at), self.ready_at[-1])
        return chunk

    async def chunks(self) -> AsyncIterator[np.ndarray]:
        try:
            first, self._first = self._first, None
            if first is not None:
                yield first
            while (chunk := await self._next()) is not None:
                yield chunk
        finally:
            self.cancelled.set()  # the client left, or the stream is over: no more segments either way

    def note_first_bytes(self) -> None:
        if self.first_bytes_at is None:
            self.first_bytes_at = self.elapsed()
            log.info("%s: first bytes sent at %.3f s", self.label, self.first_bytes_at)

    def summary(self) -> str:
        return (f"{self.label}: {len(self.ready_at)} segments, first bytes at {self.first_bytes_at or 0:.3f} s, "
                f"last segment at {self.ready_at[-1] if self.ready_at else 0:.3f} s, done at {self.elapsed():.3f} s")


async def _body(stream: SegmentStream, rate: int, fmt: AudioFormat, preamble: bytes = b"") -> AsyncIterator[bytes]:
    finished = False
    try:
        if preamble:
            yield preamble
        async for data in encode_stream(stream.chunks(), rate, fmt):
            stream.note_first_bytes()
            yield data
        finished = True
    except Exception as exc:  # the status is already sent: log and abort the connection
        log.error("%s: stream aborted: %s", stream.label, exc)
        raise
    finally:
        stream.cancelled.set()
        log.info("%s%s", stream.summary(), "" if finished else " (not completed)")


class _SlotHoldingResponse(StreamingResponse):
    """Gives the synthesis slot back when the response is over, however it ends: sent in full, failed,
    or cancelled because the client went (then the body generator may never be closed by itself)."""

    def __init__(self, content, finish: Callable[[], None], **kwargs):
        super().__init__(content, **kwargs)
        self._finish = finish

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._finish()


async def streamed_audio(engine: SpeechEngine, options: SynthesisOptions, fmt: AudioFormat, label: str,
                         slots: SynthesisSlots, headers: dict[str, str] | None = None,
                         preamble: Callable[[int], bytes] | None = None,
                         media_type: str | None = None) -> StreamingResponse:
    """A chunked response of `fmt` audio; raises SynthesisError if the first segment fails, ApiError
    BUSY if no synthesis slot is free. `preamble(rate)`: bytes sent before the audio (api_v2's WAV
    header before raw PCM); `media_type`: the Content-Type, if not the format's own."""
    await slots.acquire()
    stream = SegmentStream(engine, options, label, slots.run)
    finish = release_once(slots, also=stream.cancelled.set)
    try:
        rate = await stream.start()
    except BaseException:
        finish()
        raise
    first = preamble(rate) if preamble is not None else b""
    return _SlotHoldingResponse(_body(stream, rate, fmt, first), finish, media_type=media_type or fmt.media_type,
                                headers={"X-Sample-Rate": str(rate), **(headers or {})})
