"""The clients people already use, against the service with an API key set (test-double engine, a real
socket): Open WebUI, SillyTavern, Home Assistant (the openai_tts custom integration and the core OpenAI
integration) and the openai SDK. Each test sends what that client sends, method, path, headers and body as
its code builds them (the file is named above each), and reads the answer the way that client reads it.

Requests made in Python by the client itself (urllib, the openai SDK) go through that very library; those
made with aiohttp or node-fetch are replayed byte for byte, their library's default headers included."""
from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import urllib.request
from typing import Iterator
from urllib.parse import urlsplit

import httpx
import numpy as np
import openai
import pytest
from service_helpers import create_model, run_coroutine

from support.stream_engine import StreamEngine, segment_audio
from support.thread_server import serve
from tts_service.app import create_app
from tts_service.settings import Settings

KEY = "sk-local-key"
VOICE, VOICE_NAME = "xiaoyun", "小云"
TEXT = "一|二|三"  # three segments (the test engine splits at "|")
AIOHTTP = [("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate"), ("User-Agent", "Python/3.11 aiohttp/3.11.18")]
NODE_FETCH = [("Accept", "*/*"), ("User-Agent", "node-fetch"), ("Accept-Encoding", "gzip, deflate, br"),
              ("Connection", "close")]


@contextlib.contextmanager
def running(tmp_path, clips, png, voices=((VOICE, VOICE_NAME),), **settings) -> Iterator[tuple[str, StreamEngine]]:
    """The service with the key set and these voice models, on a socket: (base URL, engine)."""
    engine = StreamEngine()
    app = create_app(Settings(data_dir=tmp_path / "data", load_models=False, api_key=KEY, **settings), engine=engine)
    with serve(app) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as client:
            for voice_id, name in voices:
                assert create_model(client, clips["5s"], png, voice_id, model_name=name).json()["code"] == 0
        yield url, engine


@pytest.fixture
def live(tmp_path, clips, png):
    with running(tmp_path, clips, png) as started:
        yield started


def replay(url: str, method: str, path: str, headers: list[tuple[str, str]], body: bytes | None = None):
    """Exactly this request line, Host, these headers in this order and this body; (status, headers, body)."""
    where = urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", where.netloc)
        for name, value in headers:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def decoded_samples(data: bytes, container: str) -> np.ndarray:
    """Decoded with ffmpeg, as the players these clients hand the bytes to do."""
    done = subprocess.run(["ffmpeg", "-v", "error", "-f", container, "-i", "pipe:0", "-f", "s16le", "-ac", "1",
                           "pipe:1"], input=data, capture_output=True, check=True)
    return np.frombuffer(done.stdout, "<i2")


def assert_speech(data: bytes, container: str, segments: int = 3) -> None:
    samples = decoded_samples(data, container)
    expected = sum(len(segment_audio("x", i)) for i in range(segments))  # 32 kHz; opus decodes at 48 kHz
    assert len(samples) >= expected * 0.95 and np.abs(samples.astype(np.int32)).max() > 1000


# ---- Open WebUI: backend/open_webui/routers/audio.py (get_available_voices, get_available_models, speech) ----
def test_open_webui_lists_voices_and_models_without_a_key_and_speaks_with_it(live):
    url, engine = live
    base = "/v1"  # the "API Base URL" a user enters: http://host:9881/v1
    # GET {TTS_OPENAI_API_BASE_URL}/audio/voices through aiohttp, no key sent; it reads data.get('voices', [])
    status, _, body = replay(url, "GET", f"{base}/audio/voices", AIOHTTP)
    assert status == 200, body
    data = json.loads(body)
    available_voices = {voice["id"]: voice["name"] for voice in data.get("voices", [])}
    assert available_voices == {VOICE: VOICE_NAME}
    assert b"refer" not in body and b"/audio/" not in body  # ids and names only: no clip, no clip path
    # GET {base}/audio/models, no key: data.get('models', []) as the model picker's items
    status, _, body = replay(url, "GET", f"{base}/audio/models", AIOHTTP)
    assert status == 200, body
    available_models = json.loads(body).get("models", [])
    assert available_models and all(set(m) >= {"id"} for m in available_models)
    # POST {base}/audio/speech: the browser's {input, voice}, then payload['model'] = TTS_MODEL, as aiohttp json=
    payload = {"input": TEXT, "voice": next(iter(available_voices)), "model": available_models[0]["id"]}
    headers = [("Content-Type", "application/json"), ("Authorization", f"Bearer {KEY}"), *AIOHTTP]
    status, response_headers, audio = replay(url, "POST", f"{base}/audio/speech", headers,
                                             json.dumps(payload).encode())
    assert status == 200, audio
    # it stores the body as .mp3, transcoding whatever its Content-Type says is not MP3
    assert response_headers["content-type"] == "audio/mpeg"
    assert_speech(audio, "mp3")
    assert engine.calls[0].ref_wav_path.endswith(f"{VOICE}/refer.wav")
    # a refusal: it shows f"External: {res['error']}" from the JSON body
    status, _, body = replay(url, "POST", f"{base}/audio/speech", headers,
                             json.dumps({**payload, "voice": "alloy"}).encode())
    assert status == 404 and "alloy" in json.loads(body)["error"]["message"]


def test_the_listings_need_the_key_with_protect_voice_list(tmp_path, clips, png):
    with running(tmp_path, clips, png, protect_voice_list=True) as (url, _):
        for path in ("/v1/audio/voices", "/v1/audio/models"):
            status, _, body = replay(url, "GET", path, AIOHTTP)  # Open WebUI then offers its default voices
            assert status == 401 and json.loads(body)["error"]["code"] == "invalid_api_key"
            status, _, body = replay(url, "GET", path, [("Authorization", f"Bearer {KEY}"), *AIOHTTP])
            assert status == 200, body


def test_with_the_key_the_voice_listing_has_the_details(live):
    url, _ = live
    anonymous = httpx.get(url + "/v1/audio/voices").json()
    assert anonymous["data"] == [{"id": VOICE, "name": VOICE_NAME, "object": "voice"}]
    full = httpx.get(url + "/v1/audio/voices", headers={"X-API-Key": KEY}).json()
    assert full["voices"] == anonymous["voices"] and "/refer.wav" in full["data"][0]["preview_url"]
    assert httpx.get(url + full["data"][0]["preview_url"]).status_code == 401  # the clip itself needs the key
    assert httpx.get(url + "/v1/models").status_code == 401  # the rest of /v1 stays closed


# ---- SillyTavern: src/endpoints/openai.js, custom.post('/generate-voice') (node-fetch), from
# ---- public/scripts/extensions/tts/openai-compatible.js (provider_endpoint, model, voice, speed) ----------
def test_sillytavern_openai_compatible_provider(live):
    url, engine = live
    # JSON.stringify({input, response_format: 'mp3', voice, speed, model}): compact, the slider's speed
    body = json.dumps({"input": TEXT, "response_format": "mp3", "voice": VOICE, "speed": 1.25, "model": "tts-1"},
                      ensure_ascii=False, separators=(",", ":")).encode()
    headers = [("Content-Type", "application/json"), ("Authorization", f"Bearer {KEY}"), *NODE_FETCH]
    status, _, audio = replay(url, "POST", "/v1/audio/speech", headers, body)  # provider_endpoint's path
    assert status == 200, audio  # result.ok, then arrayBuffer() sent on as audio/mpeg
    assert_speech(audio, "mp3", segments=3)
    assert engine.calls[0].speed == 1.25


# ---- Home Assistant, openai_tts custom integration: custom_components/openai_tts/voice_discovery.py
# ---- (async_fetch_remote_voices) and openaitts_engine.py (get_tts via urllib, async_get_tts_stream via aiohttp)
def test_home_assistant_openai_tts(live):
    url, engine = live
    speech_url = url + "/v1/audio/speech"  # the integration's "URL" setting
    # voice discovery: speech URL -> .../audio/voices, GET with the key, payload["voices"] -> (id, name)
    voices_url = speech_url[: -len("/speech")] + "/voices"
    status, _, body = replay(url, "GET", urlsplit(voices_url).path,
                             [("Authorization", f"Bearer {KEY}"), *AIOHTTP[:2],
                              ("User-Agent", "HomeAssistant/2025.10.0 aiohttp/3.12.15 Python/3.13")])
    assert status == 200, body
    payload = json.loads(body)
    voices = [(str(v.get("id") or v.get("voice_id")), str(v.get("name") or v.get("id"))) for v in payload["voices"]]
    assert voices == [(VOICE, VOICE_NAME)]
    # get_tts: urllib, response_format mp3, extra_payload (a JSON setting) merged into the body
    request_body = {"model": "tts-1", "input": TEXT, "voice": VOICE, "response_format": "mp3", "speed": 1.0}
    request_body.update(json.loads('{"language": "all_zh", "seed": 7}'))
    request = urllib.request.Request(speech_url, data=json.dumps(request_body).encode("utf-8"), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "HomeAssistant-OpenAI-TTS",
                                              "Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert_speech(response.read(), "mp3")
    assert (engine.calls[0].text_language, engine.calls[0].seed) == ("all_zh", 7)
    # async_get_tts_stream: aiohttp json=payload, response_format "opus", read chunk by chunk
    stream_body = {"model": "tts-1", "input": TEXT, "voice": VOICE, "response_format": "opus", "speed": 1.0,
                   "instructions": "calm"}
    headers = [("Content-Type", "application/json"), ("User-Agent", "HomeAssistant-OpenAI-TTS"),
               ("Authorization", f"Bearer {KEY}"), *AIOHTTP[:2]]
    status, response_headers, audio = replay(url, "POST", "/v1/audio/speech", headers,
                                             json.dumps(stream_body).encode())
    assert status == 200 and response_headers["content-type"] == "audio/ogg" and audio.startswith(b"OggS")
    assert_speech(audio, "ogg")


# ---- Home Assistant core: homeassistant/components/openai_conversation/tts.py (AsyncOpenAI, base URL from
# ---- OPENAI_BASE_URL; its voices are OpenAI's names, so the voice model is named "marin", its default) ------
def test_home_assistant_core_openai_tts(tmp_path, clips, png):
    async def async_get_tts_audio(url: str) -> bytes:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
        response_data = bytearray()
        async with client.audio.speech.with_streaming_response.create(
                model="gpt-4o-mini-tts", voice="marin", input=TEXT, instructions=str(None), speed=1.0,
                response_format="mp3") as response:
            async for chunk in response.iter_bytes():
                response_data.extend(chunk)
        await client.close()
        return bytes(response_data)

    with running(tmp_path, clips, png, voices=(("marin", "Marin"),)) as (url, engine):
        assert_speech(run_coroutine(async_get_tts_audio(url)), "mp3")
        assert engine.calls[0].ref_wav_path.endswith("marin/refer.wav")


# ---- the openai SDK (openai-python: resources/audio/speech.py), whole and with_streaming_response ----------
def test_openai_sdk_whole_and_streamed(live):
    url, engine = live
    client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=60)
    whole = client.audio.speech.create(model="tts-1", voice=VOICE, input=TEXT)  # default format: mp3
    assert_speech(whole.content, "mp3")
    with client.audio.speech.with_streaming_response.create(
            model="gpt-sovits", voice=VOICE, input=TEXT, response_format="pcm", speed=1.0,
            extra_body={"how_to_cut": "cut0", "seed": 3}) as response:
        assert response.headers["content-type"] == "audio/pcm"
        pcm = b"".join(response.iter_bytes())
    clip = engine.calls[1].ref_wav_path
    expected = np.concatenate([segment_audio(clip, i) for i in range(3)])
    np.testing.assert_array_equal(np.frombuffer(pcm, "<i2"), expected)
    assert (engine.calls[1].how_to_cut, engine.calls[1].seed) == ("cut0", 3)
    assert [m.id for m in client.models.list()][:2] == ["gpt-sovits", "tts-1"]
    with pytest.raises(openai.NotFoundError, match="nobody"):
        client.audio.speech.create(model="tts-1", voice="nobody", input=TEXT)
