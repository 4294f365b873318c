"""Uploaded clips are decoded as audio only, and only as much as the 3-10 s rule needs.

Hostile clips are built here: an HLS playlist and a concat script (saved as `clip.wav`) that name a
secret file outside the data dir, and a small FLAC of three hours of silence. Each is refused with
code 3 and leaves nothing in audio/ or .staging/; the real formats users upload still decode; the
decodes running at once never exceed max_decodes, the others waiting their turn.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from service_helpers import assert_envelope, create_model, snapshot

from tts_service.storage import clip_decoding
from tts_service.storage.uploads import CLIP_RANGE_MESSAGE, DECODE_SECONDS

REPO = Path(__file__).resolve().parents[2]
LONG_SECONDS = 3 * 3600

# name -> ffmpeg output options; the suffix is the name's
FORMATS = {
    "clip.wav": ["-c:a", "pcm_s16le"],
    "clip.mp3": ["-c:a", "libmp3lame"],
    "clip.flac": ["-c:a", "flac"],
    "vorbis.ogg": ["-c:a", "libvorbis"],
    "clip.opus": ["-c:a", "libopus"],
    "clip.m4a": ["-c:a", "aac"],
    "clip.webm": ["-c:a", "libopus"],
    "clip.aac": ["-c:a", "aac", "-f", "adts"],
    "clip.aiff": [],
}


@pytest.fixture(scope="module")
def made(clips, tmp_path_factory) -> dict[str, Path]:
    """The 5 s speech clip in every allowed format, a secret outside any data dir, and hostile clips."""
    folder = tmp_path_factory.mktemp("decoding")
    out = {}
    for name, options in FORMATS.items():
        out[name] = folder / name
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(clips["5s"]), *options, str(out[name])], check=True)
    secret = folder / "secret.mp3"  # an extension the HLS demuxer accepts for a segment
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(clips["5s"]), str(secret)], check=True)
    out["secret"] = secret
    out["warmup"] = folder / "warmup.flac"  # not at 32 kHz, so that warming up loads the resampler too
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(clips["5s"]), "-ar", "22050", str(out["warmup"])],
                   check=True)
    for name, entry in (("hls_file_url", f"file://{secret}"), ("hls_path", str(secret))):
        out[name] = folder / name / "clip.wav"
        out[name].parent.mkdir()
        out[name].write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:5.0,\n{entry}\n#EXT-X-ENDLIST\n")
    out["concat"] = folder / "concat" / "clip.wav"
    out["concat"].parent.mkdir()
    out["concat"].write_text(f"ffconcat version 1.0\nfile '{secret}'\n")
    # three hours of silence: about 2 MB of FLAC, over a GB as 32 kHz float32
    out["long"] = folder / "long.flac"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono",
                    "-t", str(LONG_SECONDS), "-c:a", "flac", str(out["long"])], check=True)
    return out


def _refused(client, clip: Path, png: bytes, message: str | None = None) -> dict:
    """Code 3, and neither the stores, audio/ nor .staging/ keep anything of it."""
    data_dir = client.app.state.settings.data_dir
    before = snapshot(data_dir)
    body = assert_envelope(create_model(client, clip, png, "hostile"), 3, 400)
    if message:
        assert body["message"] == message
    assert snapshot(data_dir) == before
    assert not (data_dir / "audio" / "hostile").exists()
    assert not any((data_dir / ".staging").iterdir())
    return body


@pytest.mark.parametrize("name", list(FORMATS))
def test_allowed_formats_decode(client, data_dir, made, png, name):
    body = assert_envelope(create_model(client, made[name], png, "m1"), 0, 200)
    assert abs(body["data"]["clip_seconds"] - 5.0) < 0.1  # codec priming/padding is a few ms
    assert (data_dir / "audio" / "m1" / "refer.wav").is_file()


@pytest.mark.parametrize("name", ["hls_file_url", "hls_path", "concat"])
def test_playlists_and_scripts_are_not_opened(client, made, png, name):
    _refused(client, made[name], png)


def test_refused_playlist_is_not_served_back(client, made, png):
    """The attack end to end: nothing under /audio/hostile/ to fetch the secret from."""
    _refused(client, made["hls_file_url"], png)
    assert client.get("/audio/hostile/refer.wav").status_code == 404


@pytest.mark.parametrize("backend", ["ffmpeg", "libsndfile"])
def test_long_clip_is_refused_after_decoding_only_the_cap(client, made, png, monkeypatch, backend):
    if backend == "libsndfile":
        monkeypatch.setattr(clip_decoding.shutil, "which", lambda *a, **k: None)  # as if ffmpeg were absent
    decoded = []
    real = clip_decoding.decode_clip

    def spy(path, *rest):
        samples = real(path, *rest)
        decoded.append(samples.nbytes)
        return samples

    monkeypatch.setattr(clip_decoding, "decode_clip", spy)
    body = _refused(client, made["long"], png, CLIP_RANGE_MESSAGE)
    assert decoded and max(decoded) <= clip_decoding.DECODE_CAP_BYTES
    assert body["data"]["seconds"] <= DECODE_SECONDS and body["data"]["at_least"] is True


MEASURE = """
import json, resource, shutil, sys
from pathlib import Path
if sys.argv[3] == "libsndfile":
    shutil.which = lambda *a, **k: None  # as if ffmpeg were not installed
from tts_service.storage.uploads import decode_clip
decode_clip(Path(sys.argv[1]))  # a normal clip first: every lazy import (resampler too) is in place
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
samples = decode_clip(Path(sys.argv[2]))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grown_kib": after - before, "bytes": int(samples.nbytes)}))
"""


@pytest.mark.parametrize("backend", ["ffmpeg", "libsndfile"])
def test_long_clip_decode_memory_is_bounded(made, backend):
    """Peak memory of the decoding process, measured in a fresh one: a capped decode of the 3-hour
    file grows it by about a MB; an uncapped one by well over a GB."""
    done = subprocess.run([sys.executable, "-c", MEASURE, str(made["warmup"]), str(made["long"]), backend],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["bytes"] <= clip_decoding.DECODE_CAP_BYTES
    assert measured["grown_kib"] < 64 * 1024, measured


@pytest.mark.parametrize("name", ["clip.wav", "clip.flac", "vorbis.ogg", "clip.mp3"])
def test_libsndfile_fallback_decodes_what_it_reads(client, made, png, monkeypatch, name):
    monkeypatch.setattr(clip_decoding.shutil, "which", lambda *a, **k: None)  # as if ffmpeg were absent
    body = assert_envelope(create_model(client, made[name], png, "m1"), 0, 200)
    assert abs(body["data"]["clip_seconds"] - 5.0) < 0.1


def test_libsndfile_fallback_refuses_a_playlist(client, made, png, monkeypatch):
    monkeypatch.setattr(clip_decoding.shutil, "which", lambda *a, **k: None)
    _refused(client, made["hls_file_url"], png)


def _poll(condition, what: str, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_concurrent_decodes_wait_for_a_slot(make_client, made, png, monkeypatch):
    client = make_client(max_decodes=2)
    decoder = client.app.state.voice_models.decoder
    lock, gate = threading.Lock(), threading.Event()
    count = {"now": 0, "peak": 0}
    real = clip_decoding.decode_clip

    def counted(path, *rest):
        with lock:
            count["now"] += 1
            count["peak"] = max(count["peak"], count["now"])
        try:
            gate.wait(120)
            return real(path, *rest)
        finally:
            with lock:
                count["now"] -= 1

    monkeypatch.setattr(clip_decoding, "decode_clip", counted)
    total = 5
    results: dict[int, dict] = {}

    def upload(i: int) -> None:
        results[i] = create_model(client, made["clip.wav"], png, f"m{i}").json()

    workers = [threading.Thread(target=upload, args=(i,)) for i in range(total)]
    for worker in workers:
        worker.start()
    try:
        # every request has reached the decoder: two decoding, the rest queued for a slot
        _poll(lambda: count["now"] == 2 and decoder.waiting == total - 2, "2 decoding and 3 waiting")
        assert count["peak"] == 2
    finally:
        gate.set()
        for worker in workers:
            worker.join(120)
    assert count["peak"] == 2
    assert [results[i]["code"] for i in range(total)] == [0] * total  # the waiting ones waited, none failed
    assert decoder.running == 0 and decoder.waiting == 0


@pytest.mark.parametrize("demuxer", clip_decoding.ALLOWED_DEMUXERS)
def test_ffmpeg_command_opens_nothing_but_the_file(made, demuxer):
    """Defence in depth, should the sniffing ever be fooled: whatever allowed demuxer a playlist is
    forced through, ffmpeg outputs none of the secret it names."""
    for name in ("hls_file_url", "hls_path", "concat"):
        done = subprocess.run(clip_decoding.ffmpeg_command(made[name], demuxer), capture_output=True, timeout=60)
        assert done.stdout == b"", (name, demuxer)
