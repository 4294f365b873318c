"""Serving many clients: `api_ms.py` on full-size random weights, 1, 2, 4 and 8 clients at once.

Every client streams `/v1/audio/speech` (pcm) for the same ~10-second Chinese text in a voice whose
reference work is already cached. For each number of clients: the audio seconds delivered per second of
wall time (all clients together), and the time to each client's first audio byte (median and 95th
percentile); while four clients run, how long `/healthz` takes. Then the same four clients against a
server started with `--no-batching` (one segment at a time, each alone), and each server's peak resident
memory (`VmHWM`), measured after all its requests.
"""
from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from .http_bench import KEY, VOICE, WARM_UP_LOG, _free_port, _png, _wait_ready, peak_rss_mb, wait_for_log

CONCURRENCY = (1, 2, 4, 8)
UNBATCHED_CONCURRENCY = 4
PCM_BYTES_PER_SECOND = 32000 * 2  # the speech route's pcm: 32 kHz, 16-bit mono
HEALTH_POLL_SECONDS = 0.5


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Client:
    """One streamed speech request: time to the first audio byte, total time, audio seconds."""

    def __init__(self, url: str, body: dict):
        self.url, self.body = url, body
        self.first = self.total = self.audio = 0.0
        self.error: str | None = None

    def run(self) -> None:
        start = time.perf_counter()
        size = 0
        try:
            with httpx.stream("POST", self.url + "/v1/audio/speech", json=self.body, timeout=900,
                              headers={"Authorization": f"Bearer {KEY}"}) as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    if chunk and not size:
                        self.first = time.perf_counter() - start
                    size += len(chunk)
        except httpx.HTTPError as exc:
            self.error = str(exc)
        self.total = time.perf_counter() - start
        self.audio = size / PCM_BYTES_PER_SECOND


def _round(url: str, body: dict, clients: int, health: list[float] | None = None) -> list[Client]:
    """`clients` requests at once; with `health`, /healthz is polled meanwhile and its latencies kept."""
    runs = [Client(url, body) for _ in range(clients)]
    threads = [threading.Thread(target=run.run) for run in runs]
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(timeout=60) as client:
            while not done.is_set():
                start = time.perf_counter()
                client.get(url + "/healthz")
                health.append(time.perf_counter() - start)
                done.wait(HEALTH_POLL_SECONDS)

    poller = threading.Thread(target=poll) if health is not None else None
    for thread in threads + ([poller] if poller else []):
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    if poller:
        poller.join()
    failed = [run.error for run in runs if run.error]
    if failed:
        raise RuntimeError(f"{len(failed)} of {clients} requests failed: {failed[0]}")
    return runs


def _report_round(prefix: str, runs: list[Client], wall: float, report) -> float:
    rate = sum(run.audio for run in runs) / wall
    firsts = [run.first for run in runs]
    report(f"{prefix}.audio_seconds_per_second", rate, "audio s/s")
    report(f"{prefix}.first_audio_p50", statistics.median(firsts), "s")
    report(f"{prefix}.first_audio_p95", _quantile(firsts, 0.95), "s")
    report(f"{prefix}.total_p50", statistics.median(run.total for run in runs), "s")
    return rate


class Server:
    def __init__(self, repo: Path, folder: Path, flags: list[str], extra: list[str]):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / f"server{'-'.join(extra)}.log"
        self.log = open(self.log_path, "wb")
        data = folder / ("data" + "-".join(extra))
        self.proc = subprocess.Popen(
            [sys.executable, "api_ms.py", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(data),
             "--device-target", "CPU", "--api-key", KEY, *flags, *extra], cwd=repo, stdout=self.log,
            stderr=subprocess.STDOUT, env={**os.environ, "GLOG_v": "3"})

    def __enter__(self) -> "Server":
        _wait_ready(self.url, self.proc)
        wait_for_log(self.log_path, WARM_UP_LOG)  # measured on a warm server, as after a while in service
        return self

    def __exit__(self, kind, value, trace) -> None:
        if kind is not None:  # the server's side of the failure, before its folder goes
            lines = self.log_path.read_text(errors="replace").splitlines()
            print("\n".join(["--- server log (last 60 lines) ---", *lines[-60:]]), file=sys.stderr)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _create_voice(url: str, clip: Path, prompt_text: str) -> None:
    files = {"avatar": ("a.png", _png(), "image/png"), "refer_wav": ("ref.wav", clip.read_bytes(), "audio/wav")}
    form = {"model_id": VOICE, "model_name": VOICE, "gender": "2", "prompt_text": prompt_text,
            "prompt_language": "中文"}
    body = httpx.post(url + "/voice-models", data=form, files=files, headers={"Authorization": f"Bearer {KEY}"},
                      timeout=60).json()
    if body.get("code") != 0:
        raise RuntimeError(f"voice creation failed: {body}")


def _serve(server: Server, clip: Path, prompt_text: str, body: dict, levels: tuple[int, ...], prefix: str,
           report) -> dict[int, float]:
    _create_voice(server.url, clip, prompt_text)
    _round(server.url, body, 1)  # the voice's reference work, cached from here on
    rates = {}
    for clients in levels:
        health: list[float] | None = [] if clients == 4 and prefix == "serve" else None
        start = time.perf_counter()
        runs = _round(server.url, body, clients, health)
        rates[clients] = _report_round(f"{prefix}.concurrency_{clients}", runs, time.perf_counter() - start, report)
        if health:
            report(f"{prefix}.healthz_ms_under_load", statistics.median(health) * 1e3,
                   f"ms (median of {len(health)}, 4 clients)")
    report(f"{prefix}.server_peak_rss", peak_rss_mb(server.proc.pid), "MB")
    return rates


def bench_serve(repo: Path, tokenizer: Path, text: str, prompt_text: str, write_clip, report) -> None:
    from bench.weight_files import write_in_child_process

    logging.getLogger("httpx").setLevel(logging.WARNING)
    body = {"model": "gpt-sovits", "voice": VOICE, "input": text, "response_format": "pcm", "how_to_cut": "cut5",
            "seed": 0}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        flags = write_in_child_process(folder / "weights", tokenizer)
        clip = folder / "ref.wav"
        write_clip(clip)
        with Server(repo, folder, flags, []) as server:
            batched = _serve(server, clip, prompt_text, body, CONCURRENCY, "serve", report)
        with Server(repo, folder, flags, ["--no-batching"]) as server:
            unbatched = _serve(server, clip, prompt_text, body, (UNBATCHED_CONCURRENCY,), "serve.unbatched", report)
    report(f"serve.concurrency_{UNBATCHED_CONCURRENCY}.over_unbatched",
           batched[UNBATCHED_CONCURRENCY] / unbatched[UNBATCHED_CONCURRENCY], "x")
