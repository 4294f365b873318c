"""The service measured over HTTP: `api_ms.py` on full-size random weights, as a client sees it.

Start-up to ready (loading + warm-up), then, for a multi-sentence text, time to first byte and total
time of a streamed `/v1/audio/speech` (pcm) and of a streamed `/synthesize` (wav), each twice: the
first request analyses the new voice's clip, the repeat reuses it. Last, the server's peak resident
memory (`memory.server_peak_rss`, VmHWM) once its background warm-up is done too.
"""
from __future__ import annotations

import io
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import httpx

KEY = "bench-key"
VOICE = "bench"
WARM_UP_LOG = "background warm-up:"  # the engine's line once the background graphs are built


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 600.0) -> None:
    # One client for every poll: `httpx.get` builds a new one each time, TLS context included, which
    # cost enough CPU at 5 polls/s to slow the server's start-up measurably on 2 cores.
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"api_ms.py exited with {proc.returncode}")
            try:
                state = client.get(url + "/healthz").json().get("state")
            except httpx.HTTPError:
                state = None
            if state == "ready":
                return
            if state == "failed":
                raise RuntimeError("model loading failed: " + client.get(url + "/healthz").text)
            time.sleep(0.2)
    raise RuntimeError(f"not ready within {timeout} s")


def wait_for_log(path: Path, text: str, timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        time.sleep(1.0)
    raise RuntimeError(f"no {text!r} in the server log within {timeout} s")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 120, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def _timed_stream(send: Callable[[], httpx.Response]) -> tuple[float, float, int]:
    """(time to first byte, total, bytes) of a streamed response."""
    start = time.perf_counter()
    first, size = None, 0
    with send() as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            if chunk and first is None:
                first = time.perf_counter() - start
            size += len(chunk)
    return first or 0.0, time.perf_counter() - start, size


def _report_startup_stages(log_path: Path, report) -> None:
    """The engine's own log lines: `models loaded in X s` and `warm-up: stage X s, ...`."""
    text = log_path.read_text(errors="replace")
    loaded = re.search(r"models loaded in ([0-9.]+) s", text)
    if loaded:
        report("http.startup.load_models", float(loaded.group(1)), "s")
    warm = re.search(r"(?<!background )warm-up: (.*)", text)
    for stage, seconds in re.findall(r"([\w.]+) ([0-9.]+) s", warm.group(1) if warm else ""):
        report(f"http.startup.warm_up.{stage}", float(seconds), "s")


def bench_http(repo: Path, tokenizer: Path, text: str, prompt_text: str, write_clip, report) -> None:
    from bench.weight_files import write_in_child_process

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would bury the figures

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        start = time.perf_counter()
        flags = write_in_child_process(folder / "weights", tokenizer)
        report("http.write_weights", time.perf_counter() - start, "s")
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(folder / "server.log", "wb")
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "api_ms.py", "--host", "127.0.0.1", "--port", str(port),
                                 "--data-dir", str(folder / "data"), "--device-target", "CPU", "--api-key", KEY,
                                 *flags], cwd=repo, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "GLOG_v": "3"})
        try:
            _wait_ready(url, proc)
            report("http.startup_to_ready", time.perf_counter() - start, "s (load + warm-up)")
            _report_startup_stages(folder / "server.log", report)
            _requests(url, folder, text, prompt_text, write_clip, report)
            # The peak once every graph is built (the background warm-up may outlast the requests).
            wait_for_log(folder / "server.log", WARM_UP_LOG)
            report("memory.server_peak_rss", peak_rss_mb(proc.pid), "MB (after warm-up and the requests above)")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def _requests(url: str, folder: Path, text: str, prompt_text: str, write_clip, report) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    clip = folder / "ref.wav"
    write_clip(clip)
    files = {"avatar": ("a.png", _png(), "image/png"), "refer_wav": ("ref.wav", clip.read_bytes(), "audio/wav")}
    form = {"model_id": VOICE, "model_name": VOICE, "gender": "2", "prompt_text": prompt_text,
            "prompt_language": "中文"}
    body = httpx.post(url + "/voice-models", data=form, files=files, headers=headers, timeout=60).json()
    if body.get("code") != 0:
        raise RuntimeError(f"voice creation failed: {body}")
    client = httpx.Client(base_url=url, headers=headers, timeout=600)
    speech = {"model": "gpt-sovits", "voice": VOICE, "input": text, "response_format": "pcm", "how_to_cut": "cut5",
              "seed": 0}
    direct = {"model_id": VOICE, "text": text, "text_language": "中文", "how_to_cut": "cut5", "seed": 0,
              "stream": True}
    for label, path, payload in (("speech", "/v1/audio/speech", speech), ("synthesize", "/synthesize", direct)):
        for attempt in ("first", "repeat"):
            ttfb, total, size = _timed_stream(lambda: client.stream("POST", path, json=payload))
            report(f"http.{label}.{attempt}.first_byte", ttfb, "s")
            report(f"http.{label}.{attempt}.total", total, f"s ({size / 1e6:.2f} MB)")
    client.close()
