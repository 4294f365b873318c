"""The official `openai` client against the real server (`api_ms.py`, small golden weights, API key on):
every format whole and streamed, decoded back; the first audio of a multi-segment text sent before its
last segment exists (the server's own timestamps); two voices at once, each its own; clear errors."""
from __future__ import annotations

import io
import re
import subprocess
import threading

import httpx
import numpy as np
import openai
import pytest
import soundfile as sf

from golden_data import model_file, model_meta
from support.real_server import RealServer, golden_weight_args
from tts_service.audio_formats import FORMATS

pytestmark = [pytest.mark.slow, pytest.mark.server]

KEY = "sk-test-key"
TEXT = "你好，欢迎使用。"
LONG_TEXT = "今天天气很好。我们一起去公园散步吧。欢迎使用语音合成系统。祝你有美好的一天。"
ONE_SEGMENT = {"how_to_cut": "cut0", "language": "all_zh", "seed": 1}  # extensions, sent as extra_body


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("openai") / "data"
    with RealServer(data_dir, [*golden_weight_args("v2"), "--api-key", KEY]) as running:
        health = running.wait_models()
        assert health["state"] == "ready", health
        yield running


@pytest.fixture(scope="module")
def voices(server, clips, png) -> tuple[str, str]:
    """Two voice models: an espeak-ng clip and the golden reference clip."""
    made = []
    for model_id, clip, prompt in (("espeak", clips["5s"], "今天天气真不错，我们一起去公园散步吧。"),
                                   ("golden", model_file("sovits/v2/ref.wav"), model_meta("e2e")["prompt_text"])):
        files = {"avatar": ("a.png", png, "image/png"), "refer_wav": ("clip.wav", clip.read_bytes(), "audio/wav")}
        form = {"model_id": model_id, "model_name": model_id, "gender": "2", "prompt_text": prompt,
                "prompt_language": "中文"}
        body = httpx.post(server.url + "/voice-models", data=form, files=files, timeout=60,
                          headers={"Authorization": f"Bearer {KEY}"}).json()
        assert body["code"] == 0, body
        made.append(model_id)
    return made[0], made[1]


@pytest.fixture(scope="module")
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0, timeout=120)


def decode(data: bytes, fmt: str) -> tuple[int, np.ndarray]:
    if fmt == "pcm":
        return model_meta("sovits/v2")["hps"]["data"]["sampling_rate"], np.frombuffer(data, "<i2")
    done = subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "wav", "pipe:1"], input=data,
                          capture_output=True, check=True)
    audio, rate = sf.read(io.BytesIO(done.stdout), dtype="int16")
    return rate, audio


def pause_samples() -> int:
    """The silence the reference appends after each segment (the golden run records it)."""
    return model_meta("e2e")["output"]["pause_samples_appended"]


def check_speech(audio: np.ndarray, segments: int = 1) -> None:
    """Whole 25 Hz tokens of audio plus one pause per segment, and not silent."""
    hop = model_meta("sovits/v2")["hps"]["data"]["hop_length"]
    speech = audio.shape[0] - segments * pause_samples()
    assert speech > 0 and speech % (2 * hop) == 0, audio.shape
    assert np.abs(audio[:speech].astype(np.int32)).max() > 100, "silent output"


def pcm(client, voice: str, text: str = TEXT, **extra) -> np.ndarray:
    data = client.audio.speech.create(model="gpt-sovits", voice=voice, input=text, response_format="pcm",
                                      extra_body={**ONE_SEGMENT, **extra}).content
    return np.frombuffer(data, "<i2")


def test_every_format_whole_and_streamed(client, voices):
    rate = model_meta("sovits/v2")["hps"]["data"]["sampling_rate"]
    reference = pcm(client, voices[0])
    check_speech(reference)
    for fmt in FORMATS:
        whole = client.audio.speech.create(model="tts-1", voice=voices[0], input=TEXT, response_format=fmt,
                                           extra_body=ONE_SEGMENT).content
        with client.audio.speech.with_streaming_response.create(
                model="tts-1", voice=voices[0], input=TEXT, response_format=fmt, extra_body=ONE_SEGMENT) as r:
            assert r.headers["content-type"] == FORMATS[fmt].media_type
            streamed = b"".join(r.iter_bytes())
        assert streamed == whole, fmt  # same seed, same samples, same encoder
        decoded_rate, audio = decode(whole, fmt)
        if fmt in ("wav", "flac", "pcm"):
            assert decoded_rate == rate
            np.testing.assert_array_equal(audio, reference)
        else:  # lossy: the same duration (plus encoder padding) at the format's rate, not silent
            assert decoded_rate == (48000 if fmt == "opus" else rate)
            n = len(reference) * decoded_rate // rate
            assert n <= len(audio) <= n + decoded_rate // 10 and np.abs(audio).max() > 100


def _server_times(server: RealServer, request_id: str) -> tuple[float, list[float]]:
    log = server.log_path.read_text(errors="replace")
    first = re.findall(rf"speech {request_id} .*first bytes sent at ([\d.]+) s", log)
    ready = re.findall(rf"speech {request_id} .*segment \d+ ready at ([\d.]+) s", log)
    return float(first[0]), [float(t) for t in ready]


def test_first_audio_leaves_before_the_last_segment_exists(client, voices, server):
    with client.audio.speech.with_streaming_response.create(
            model="gpt-sovits", voice=voices[1], input=LONG_TEXT, response_format="mp3",
            extra_body={"seed": 3, "language": "all_zh"}) as response:
        request_id = response.headers["x-request-id"]
        data = b"".join(response.iter_bytes())
    first_bytes, ready = _server_times(server, request_id)
    assert len(ready) >= 3, ready  # cut5: one segment per sentence
    assert ready[0] <= first_bytes < ready[-1], (first_bytes, ready)
    assert decode(data, "mp3")[1].shape[0] > 0


def test_chunked_streaming_sends_a_segment_in_pieces_as_the_gpt_decodes(client, voices, server):
    """streaming_mode 3: one segment arrives in several pieces, the first before the last exists; the
    codes are the non-chunked answer's (greedy), so the length matches it up to the SOLA shifts."""
    from GPT_SoVITS.models.gpt.config import SEMANTIC_HZ
    from GPT_SoVITS.pipeline.chunked import SOLA_SEARCH

    whole = pcm(client, voices[1], top_k=1)
    chunking = {**ONE_SEGMENT, "top_k": 1, "streaming_mode": 3, "min_chunk_length": 6, "overlap_length": 2}
    with client.audio.speech.with_streaming_response.create(
            model="gpt-sovits", voice=voices[1], input=TEXT, response_format="pcm", extra_body=chunking) as r:
        request_id = r.headers["x-request-id"]
        chunked = np.frombuffer(b"".join(r.iter_bytes()), "<i2")
    first_bytes, ready = _server_times(server, request_id)
    pieces = len(ready) - 1  # the last one is the segment's pause
    assert pieces >= 3 and ready[0] <= first_bytes < ready[-2], (first_bytes, ready)
    hop = model_meta("sovits/v2")["hps"]["data"]["hop_length"]
    per_code, pause = 2 * hop, pause_samples()
    # A count stop (hz * max_sec codes) makes the webui drop the first code; chunked streaming, like the
    # reference's, voices every generated code.
    extra = per_code if (whole.size - pause) // per_code == SEMANTIC_HZ * model_meta("gpt/v2")["max_sec"] else 0
    assert whole.size + extra - (pieces - 1) * SOLA_SEARCH <= chunked.size <= whole.size + extra
    assert np.abs(chunked.astype(np.int32)).max() > 100


def _solo_and_overlapped(client, voices) -> tuple[dict, dict]:
    alone = {voice: pcm(client, voice, seed=5, top_k=1) for voice in voices}
    together: dict[str, np.ndarray] = {}
    threads = [threading.Thread(target=lambda v=voice: together.__setitem__(v, pcm(client, v, seed=5, top_k=1)))
               for voice in voices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return alone, together


def test_overlapping_requests_both_complete(client, voices):
    """Two voices at once on the real models: both answer whole speech. (That each gets its own voice is
    shown by the socket-level test with the test-double engine: these tiny weights barely differ by voice.)"""
    _, together = _solo_and_overlapped(client, voices)
    assert set(together) == set(voices)
    for voice in voices:
        check_speech(together[voice])


def test_overlapping_requests_match_solo_runs(client, voices):
    alone, together = _solo_and_overlapped(client, voices)
    for voice in voices:
        assert together[voice].shape == alone[voice].shape
        difference = together[voice].astype(np.float64) - alone[voice]
        assert np.linalg.norm(difference) <= 0.01 * np.linalg.norm(alone[voice].astype(np.float64))


def test_discovery(client, voices):
    assert {"gpt-sovits", "tts-1"} <= {m.id for m in client.models.list()}
    listed = client.get("/audio/voices", cast_to=object)
    assert {v["id"] for v in listed["data"]} == set(voices)


@pytest.mark.parametrize("fields, error, param", [
    ({"voice": "nobody"}, openai.NotFoundError, "voice"),
    ({"input": ""}, openai.BadRequestError, "input"),
    ({"input": "。。。"}, openai.BadRequestError, "input"),
    ({"response_format": "ogg"}, openai.BadRequestError, "response_format"),
    ({"speed": 8.0}, openai.BadRequestError, "speed"),
])
def test_bad_inputs(client, voices, fields, error, param):
    args = {"model": "gpt-sovits", "voice": voices[0], "input": TEXT, **fields}
    with pytest.raises(error) as caught:
        client.audio.speech.create(**args)
    assert caught.value.body["param"] == param and caught.value.body["message"]


def test_wrong_key(server, voices):
    wrong = openai.OpenAI(base_url=server.url + "/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.audio.speech.create(model="gpt-sovits", voice=voices[0], input=TEXT)
