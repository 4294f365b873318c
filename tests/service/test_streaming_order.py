"""Streaming over a real socket (uvicorn in a thread, test-double engine): the first audio reaches the
client while the last segment is still held back by the engine, in every format, on /v1/audio/speech
and on /synthesize with "stream": true; a failure after the first segment aborts the body."""
from __future__ import annotations

import io
import subprocess
import threading

import httpx
import numpy as np
import pytest
import soundfile as sf

from support.stream_engine import SAMPLE_RATE, SEGMENT_SECONDS, StreamEngine, segment_audio
from support.thread_server import serve
from GPT_SoVITS.pipeline import ChunkPlan
from tts_service.app import create_app
from tts_service.audio_formats import FORMATS
from tts_service.settings import Settings

TEXT = "一|二|三"


@pytest.fixture
def gate() -> threading.Event:
    return threading.Event()


@pytest.fixture
def live(tmp_path, gate, clips, png):
    engine = StreamEngine(gate)
    app = create_app(Settings(data_dir=tmp_path / "data", load_models=False), engine=engine)
    with serve(app) as url:
        with httpx.Client(base_url=url, timeout=30) as client:
            files = {"avatar": ("a.png", png, "image/png"),
                     "refer_wav": ("clip.wav", clips["5s"].read_bytes(), "audio/wav")}
            form = {"model_id": "xiaoyun", "model_name": "小云", "gender": "2", "prompt_text": "今天天气真不错",
                    "prompt_language": "all_zh"}
            assert client.post("/voice-models", data=form, files=files).json()["code"] == 0
            yield client, engine


def decode(data: bytes, fmt: str) -> tuple[int, np.ndarray]:
    if fmt == "pcm":
        return SAMPLE_RATE, np.frombuffer(data, "<i2")
    done = subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "wav", "pipe:1"], input=data,
                          capture_output=True, check=True)
    audio, rate = sf.read(io.BytesIO(done.stdout), dtype="int16")
    return rate, audio


def first_bytes_then_rest(client, gate, engine, method_url: str, body: dict) -> tuple[httpx.Response, bytes]:
    """Read until some audio arrives with the last segment held; then release it and read the rest."""
    with client.stream("POST", method_url, json=body) as response:
        assert response.status_code == 200, response.read()
        chunks = response.iter_raw()
        first = next(chunks)
        assert first and not gate.is_set()
        assert 2 not in engine.produced  # the last segment did not exist when audio arrived
        gate.set()
        data = first + b"".join(chunks)
    assert engine.produced == [0, 1, 2]
    return response, data


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_speech_streams_before_last_segment(live, gate, fmt):
    client, engine = live
    response, data = first_bytes_then_rest(client, gate, engine, "/v1/audio/speech", {
        "model": "gpt-sovits", "input": TEXT, "voice": "xiaoyun", "response_format": fmt})
    assert response.headers["content-type"] == FORMATS[fmt].media_type
    assert response.headers.get("transfer-encoding") == "chunked"
    rate, audio = decode(data, fmt)
    expected = int(SAMPLE_RATE * SEGMENT_SECONDS) * 3
    assert rate == (48000 if fmt == "opus" else SAMPLE_RATE)
    # lossy codecs add encoder delay / frame padding (under 0.1 s here), never lose audio
    assert expected * rate // SAMPLE_RATE <= len(audio) <= expected * rate // SAMPLE_RATE + rate // 10
    assert np.abs(audio.astype(np.int32)).max() > 2000


def test_streamed_wav_header_has_open_length(live, gate):
    client, engine = live
    gate.set()
    data = client.post("/v1/audio/speech", json={"model": "gpt-sovits", "input": TEXT, "voice": "xiaoyun",
                                                 "response_format": "wav"}).content
    assert data[:4] == b"RIFF" and data[4:8] == b"\xff\xff\xff\xff"
    assert data.index(b"data") and data[data.index(b"data") + 4:data.index(b"data") + 8] == b"\xff\xff\xff\xff"
    audio, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == SAMPLE_RATE and len(audio) == int(SAMPLE_RATE * SEGMENT_SECONDS) * 3


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_synthesize_stream_opt_in(live, gate, fmt):
    client, engine = live
    response, data = first_bytes_then_rest(client, gate, engine, "/synthesize", {
        "model_id": "xiaoyun", "text": TEXT, "stream": True, "response_format": fmt})
    assert response.headers["content-type"] == FORMATS[fmt].media_type
    rate, audio = decode(data, fmt)
    assert rate == SAMPLE_RATE and len(audio) >= int(SAMPLE_RATE * SEGMENT_SECONDS) * 3


def test_failure_after_first_segment_aborts_the_body(live, gate):
    client, engine = live
    gate.set()
    with pytest.raises(httpx.RemoteProtocolError):
        with client.stream("POST", "/v1/audio/speech", json={
                "model": "gpt-sovits", "input": "一|FAIL|三", "voice": "xiaoyun", "response_format": "pcm"}) as r:
            assert r.status_code == 200
            r.read()
    assert client.get("/v1/models").status_code == 200  # and the server goes on serving


def test_two_voices_at_once_each_get_their_own(live, gate, clips, png):
    client, engine = live
    files = {"avatar": ("a.png", png, "image/png"), "refer_wav": ("clip.wav", clips["5s"].read_bytes(), "audio/wav")}
    form = {"model_id": "laowang", "model_name": "老王", "gender": "1", "prompt_text": "你好"}
    assert client.post("/voice-models", data=form, files=files).json()["code"] == 0
    started = threading.Barrier(3)
    audio: dict[str, np.ndarray] = {}

    def speak(voice: str) -> None:
        with client.stream("POST", "/v1/audio/speech", json={
                "model": "gpt-sovits", "input": TEXT, "voice": voice, "response_format": "pcm"}) as response:
            chunks = response.iter_raw()
            first = next(chunks)
            started.wait()  # both requests are streaming, neither has its last segment
            audio[voice] = np.frombuffer(first + b"".join(chunks), "<i2")

    threads = [threading.Thread(target=speak, args=(voice,)) for voice in ("xiaoyun", "laowang")]
    for thread in threads:
        thread.start()
    started.wait(timeout=30)
    assert 2 not in engine.produced  # both in flight at once
    gate.set()
    for thread in threads:
        thread.join(timeout=30)
    clip = {options.ref_wav_path.split("/")[-2]: options.ref_wav_path for options in engine.calls}
    assert set(clip) == {"xiaoyun", "laowang"} and len(set(clip.values())) == 2
    for voice in ("xiaoyun", "laowang"):
        np.testing.assert_array_equal(audio[voice], np.concatenate([segment_audio(clip[voice], i) for i in range(3)]))


def test_streaming_mode_alone_streams_and_carries_the_chunking_to_the_engine(live, gate):
    client, engine = live
    response, _ = first_bytes_then_rest(client, gate, engine, "/synthesize", {
        "model_id": "xiaoyun", "text": TEXT, "streaming_mode": 3, "min_chunk_length": 8, "overlap_length": 3,
        "response_format": "pcm"})
    assert response.headers.get("transfer-encoding") == "chunked"
    assert engine.calls[-1].chunks == ChunkPlan(at_pauses=False, min_codes=8, overlap_codes=3)  # mode 3: fixed


def test_openai_speech_takes_the_chunking_fields(live, gate):
    client, engine = live
    gate.set()
    response = client.post("/v1/audio/speech", json={"model": "gpt-sovits", "input": TEXT, "voice": "xiaoyun",
                                                      "response_format": "pcm", "streaming_mode": True})
    assert response.status_code == 200 and engine.calls[-1].chunks is None  # mode 1: whole segments


# An overlap not shorter than a chunk is found by the route (400); out-of-range values by the schema (422).
@pytest.mark.parametrize("fields,param,status", [
    ({"streaming_mode": 2, "min_chunk_length": 4, "overlap_length": 4}, "overlap_length", 400),
    ({"streaming_mode": 4}, "streaming_mode", 422),
    ({"streaming_mode": 3, "overlap_length": 0}, "overlap_length", 422)])
def test_bad_chunking_is_refused_before_any_work(live, gate, fields, param, status):
    client, engine = live
    gate.set()
    answer = client.post("/synthesize", json={"model_id": "xiaoyun", "text": TEXT, **fields})
    assert answer.status_code == status and answer.json()["code"] == 3 and param in answer.json()["message"]
    error = client.post("/v1/audio/speech", json={"model": "gpt-sovits", "input": TEXT, "voice": "xiaoyun",
                                                   **fields}).json()["error"]
    assert error["param"] == param
    assert engine.calls == []
