"""Benchmark of the MindSpore GPT-SoVITS stack: full-size models, random weights, real text frontend.

    python -m bench.run                      # everything, from the repository root
    python -m bench.run --only gpt,roof      # a subset: roof gpt sovits bert hubert frontend e2e http serve
    python -m bench.run --eager              # the plain op-by-op path, for comparison

One figure per line, `name: value unit`. Nothing is asserted: this is for reading and comparing.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

SECTIONS = ("roof", "gpt", "sovits", "bert", "hubert", "frontend", "e2e", "http", "serve")
TOKENIZER = REPO.parent / "shared/golden/models/bert/chinese-roberta-wwm-ext-large/tokenizer.json"
SENTENCE = "今天的天气非常好，我们一起去公园散步吧。路边的花都开了，孩子们在草地上快乐地奔跑，远处传来悦耳的鸟叫声。"
PROMPT_TEXT = "这是一段五秒钟左右的参考音频。"
BERT_TEXT = "春风吹过田野，麦苗轻轻摇动，远处的山峦在薄雾中若隐若现。"  # 30 characters
TOKEN_SECONDS = 0.04  # one semantic token is 40 ms of audio (25 Hz)


def report(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:.4g} {unit}", flush=True)


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def decoder_bytes() -> int:
    from bench import random_models  # noqa: F401  (configs only)
    from bench.configs import GPT

    m = GPT["model"]
    d, f = m["hidden_dim"], 4 * m["hidden_dim"]
    per_layer = 4 * d * d + 2 * d * f + 3 * d + d + f + d + 4 * d  # attention, ffn, biases, norms
    return 4 * (m["n_layer"] * per_layer + m["vocab_size"] * d)


def bench_roof() -> float:
    """Time to read the decoder's weights once: the floor of a memory-bound decode step. The faster of a
    one-thread sum and a BLAS matrix-vector product (all cores) over as many bytes."""
    array = np.ones(decoder_bytes() // 4 // 512 * 512, np.float32)
    matrix, vector = array.reshape(-1, 512), np.ones(512, np.float32)
    seconds = min(best_of(lambda: array.sum(), 10), best_of(lambda: matrix @ vector, 10))
    report("roof.decoder_weights", array.nbytes / 1e6, "MB")
    report("roof.stream_once", seconds * 1e3, "ms")
    report("roof.bandwidth", array.nbytes / seconds / 1e9, "GB/s")
    return seconds


def bench_gpt(steps: int, roof: float | None) -> None:
    from bench import random_models
    from GPT_SoVITS.models.gpt import SamplingOptions

    start = time.perf_counter()
    gpt = random_models.gpt()
    report("gpt.build", time.perf_counter() - start, "s")
    rng = np.random.default_rng(0)
    phones, prompt = rng.integers(0, 732, 120), rng.integers(0, 1024, 125)  # 100+20 phones, a 5 s prompt
    bert = rng.standard_normal((1024, phones.size)).astype(np.float32)
    for attempt in ("warm-up", "measured"):
        stamps: list[float] = []
        start = time.perf_counter()
        gpt.generate(phones, prompt, bert, SamplingOptions(), early_stop_num=steps, seed=0,
                     on_step=lambda i, raw: stamps.append(time.perf_counter()))
    steady = np.diff(stamps)[10:]
    step = float(np.median(steady))
    positions = phones.size + prompt.size
    report("gpt.prefill", (stamps[0] - start) * 1e3, f"ms ({positions} positions)")
    report("gpt.prefill.per_position", (stamps[0] - start) * 1e3 / positions, "ms")
    report("gpt.step", step * 1e3, "ms/token")
    report("gpt.tokens_per_second", 1.0 / step, "tokens/s")
    report("gpt.realtime_factor", step / TOKEN_SECONDS, "x")
    if roof is not None:
        report("gpt.step_over_roof", step / roof, "x")
    bench_prefill_modes(gpt, phones.size, prompt.size)
    bench_gpt_batches(gpt, phones, prompt, bert)


def _resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_prefill_modes(gpt, n_text: int, n_audio: int, rounds: int = 4) -> None:
    """The prefill alone, op by op (the CPU's default) and as the bucketed graph (`models/gpt/prefill.py`),
    alternated in one process, and the resident memory the bucket's graph keeps (why the CPU stays op by op)."""
    import mindspore as ms

    from GPT_SoVITS.models.gpt.model import prefill_mask
    from GPT_SoVITS.models.gpt.prefill import CompiledPrefill

    model, dim = gpt.model, gpt.model.cfg.hidden_dim
    rng = np.random.default_rng(1)
    text = ms.Tensor(rng.standard_normal((n_text, dim)).astype(np.float32))
    audio = ms.Tensor(rng.standard_normal((n_audio, dim)).astype(np.float32))
    eager = lambda: model.prefill(text, audio, model.new_cache(512)).asnumpy()  # noqa: E731
    eager()
    before = _resident_mb()
    compiled = CompiledPrefill(model)
    graph = lambda: compiled.run(ms.ops.cat((text, audio), axis=0), prefill_mask(n_text, n_audio))[0].asnumpy()  # noqa: E731
    graph()
    report("gpt.prefill.bucket_graph_memory", _resident_mb() - before, f"MB (one graph, {n_text + n_audio} positions)")
    seconds: dict[str, list[float]] = {"op_by_op": [], "bucket_graph": []}
    for _ in range(rounds):
        for mode, run in (("op_by_op", eager), ("bucket_graph", graph)):
            start = time.perf_counter()
            run()
            seconds[mode].append(time.perf_counter() - start)
    for mode, times in seconds.items():
        report(f"gpt.prefill.{mode}", min(times) * 1e3, f"ms (best of {rounds}, the prefill alone)")
    report("gpt.prefill.bucket_graph_speedup", min(seconds["op_by_op"]) / min(seconds["bucket_graph"]), "x")


def bench_gpt_batches(gpt, phones, prompt, bert, sizes=(1, 2, 4, 8), steps: int = 40) -> None:
    """Tokens per second of the continuous batch (`models/gpt/batch.py`) with 1, 2, 4, 8 sequences of the
    same prompt decoding together, each size's graph compiled before it is timed."""
    from GPT_SoVITS.models.gpt import SamplingOptions

    batch = gpt.new_batch(sizes)
    per_second = {}
    for size in sizes:
        for attempt in ("warm-up", "measured"):
            handles = [batch.add(phones, prompt, bert, SamplingOptions(), early_stop_num=10_000, seed=i)[0]
                       for i in range(size)]
            batch.step()  # packs the new sequences into the pool
            times = []
            for _ in range(steps if attempt == "measured" else 3):
                start = time.perf_counter()
                batch.step()
                times.append(time.perf_counter() - start)
            for handle in handles:
                batch.remove(handle)
        per_second[size] = size / float(np.median(times))
        report(f"gpt.batch_{size}.tokens_per_second", per_second[size], "tokens/s")
    for size in sizes[1:]:
        report(f"gpt.batch_{size}.over_batch_1", per_second[size] / per_second[sizes[0]], "x")


def bench_sovits() -> None:
    from bench import random_models
    from bench.flops import generator_flops

    sovits = random_models.sovits()
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 1024, (1, 1, 250))  # 10 s of audio
    phones = rng.integers(0, 732, (1, 100))
    spec = np.abs(rng.standard_normal((1025, 250))).astype(np.float32)  # 5 s reference
    decode = lambda: sovits.model.decode(codes, phones, [spec], seed=0).asnumpy()  # noqa: E731
    gflop = generator_flops(sovits.model.dec, 2 * codes.shape[-1]) / 1e9  # two 50 Hz frames per code
    report("sovits.op_by_op_decode_10s", best_of(decode, 1), "s (before the generator's graph is built)")
    start = time.perf_counter()
    sovits.model.warm_up()  # the service's background warm-up does this (a no-op when switched off)
    report("sovits.compile", time.perf_counter() - start, "s")
    seconds = best_of(decode, 2)
    report("sovits.decode_10s", seconds, "s")
    report("sovits.realtime_factor", seconds / 10.0, "x")
    report("sovits.generator_gflop", gflop, "GFLOP (its convolutions, 10 s decoded whole)")
    report("sovits.gflops_per_second", gflop / seconds, "GFLOP/s (generator convolution GFLOP / decode_10s)")
    # The process's peak so far: the SoVITS figure when run alone (--only sovits).
    report("sovits.peak_rss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MB")


def bench_bert() -> None:
    import mindspore as ms
    from bench import random_models

    bert = random_models.bert(TOKENIZER if TOKENIZER.exists() else None)
    if bert.tokenizer is not None:
        run = lambda: bert.token_features(BERT_TEXT)  # noqa: E731
    else:  # no tokenizer file: the same shape, 30 characters + [CLS]/[SEP]
        ids = ms.Tensor(np.arange(100, 132, dtype=np.int64)[None])
        types = ms.Tensor(np.zeros((1, 32), np.int64))
        run = lambda: bert.model.hidden_state(ids, types, bert.feature_layers).asnumpy()  # noqa: E731
    run()
    report("bert.30_chars_op_by_op", best_of(run, 3), "s (before the graph is built)")
    start = time.perf_counter()
    bert.model.compile(bert.feature_layers)  # one graph for every length, as in the background warm-up
    report("bert.compile", time.perf_counter() - start, "s")
    run()
    report("bert.30_chars", best_of(run, 3), "s")


def bench_hubert() -> None:
    from bench import random_models

    hubert = random_models.hubert()
    wav = np.random.default_rng(0).standard_normal(16000 * 5 + 9600).astype(np.float32) * 0.1  # 5 s + pad
    run = lambda: hubert.last_hidden_state(wav).asnumpy()  # noqa: E731
    run()
    report("hubert.5s_clip", best_of(run, 2), "s")


def bench_frontend() -> None:
    start = time.perf_counter()
    from GPT_SoVITS.text.routing import get_phones

    get_phones("你好。", "all_zh", "v2")
    report("frontend.load", time.perf_counter() - start, "s")
    report("frontend.sentence", best_of(lambda: get_phones(SENTENCE, "all_zh", "v2"), 3), "s")


def write_reference_clip(path: Path, seconds: float = 5.0, rate: int = 32000) -> None:
    import soundfile

    t = np.arange(int(seconds * rate)) / rate
    voice = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    soundfile.write(str(path), voice.astype(np.float32), rate)


def bench_e2e() -> None:
    from bench import random_models
    from bench.first_audio import first_chunk_breakdown
    from GPT_SoVITS.pipeline.models import Models
    from GPT_SoVITS.pipeline.options import ChunkPlan, ModelPaths, SynthesisOptions
    from GPT_SoVITS.pipeline.synthesizer import Synthesizer
    from GPT_SoVITS.text.routing import get_phones

    start = time.perf_counter()
    models = Models(gpt=random_models.gpt(), sovits=random_models.sovits(), hubert=random_models.hubert(),
                    bert=random_models.bert(TOKENIZER if TOKENIZER.exists() else None), speaker=None,
                    paths=ModelPaths("", "", "", ""))
    report("e2e.build_models", time.perf_counter() - start, "s")
    if models.bert.tokenizer is None:
        print("e2e: skipped (needs the BERT tokenizer file at ../shared/golden/...; see bench/run.py)")
        return
    models.gpt.prompt_phones = len(get_phones(PROMPT_TEXT, "all_zh", "v2").phone_ids)
    synth = Synthesizer(models)  # one segment at a time, each alone (the service's --no-batching)
    start = time.perf_counter()
    for stage, seconds in synth.warm_up().items():
        report(f"e2e.warm_up.{stage}", seconds, "s")
    report("e2e.warm_up", time.perf_counter() - start, "s")
    start = time.perf_counter()
    for stage, seconds in synth.warm_up_rest().items():  # the service runs this after it is ready
        report(f"e2e.warm_up_rest.{stage}", seconds, "s")
    report("e2e.warm_up_rest", time.perf_counter() - start, "s")
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "ref.wav"
        write_reference_clip(clip)
        # whole: one segment; streamed: segment by segment (exact); chunked: ~16 codes at a time
        # (cut at pauses, or fixed: the reference's streaming_mode 2 and 3), its low-latency streaming.
        factors: dict[str, float] = {}
        for cut, label, chunks in (("cut1", "whole", None), ("cut5", "streamed", None),
                                   ("cut5", "chunked", ChunkPlan(at_pauses=True)),
                                   ("cut5", "chunked_fixed", ChunkPlan(at_pauses=False))):
            options = SynthesisOptions(ref_wav_path=str(clip), text=SENTENCE, prompt_text=PROMPT_TEXT,
                                       how_to_cut=cut, seed=0, pause_second=0.0, chunks=chunks)
            for attempt in ("first", "repeat"):  # the repeat reuses the cached reference work
                start = time.perf_counter()
                first, samples = None, 0
                for chunk in synth.stream(options):
                    first = first or time.perf_counter() - start
                    samples += chunk.size
                total = time.perf_counter() - start
                audio = samples / synth.sample_rate
                if cut == "cut1" and attempt == "first":
                    report("e2e.audio", audio, "s")
                report(f"e2e.{label}.{attempt}.total", total, "s")
                report(f"e2e.{label}.{attempt}.realtime_factor", total / audio, "x")
                report(f"e2e.{label}.{attempt}.first_audio", first, "s")
                factors[f"{label}.{attempt}"] = total / audio
            if label == "chunked_fixed":
                first_chunk_breakdown(synth, options, f"e2e.{label}.repeat.first_audio", report)
        bench_e2e_parallel(models, clip, factors["whole.repeat"])


def bench_e2e_parallel(models, clip: Path, whole_factor: float) -> None:
    """The same text cut at every punctuation mark (as `e2e.streamed`), its segments decoded together in
    the batch (the service's default), beside the same synthesis one segment after another."""
    from GPT_SoVITS.pipeline.options import Batching, SynthesisOptions
    from GPT_SoVITS.pipeline.synthesizer import Synthesizer

    options = SynthesisOptions(ref_wav_path=str(clip), text=SENTENCE, prompt_text=PROMPT_TEXT, how_to_cut="cut5",
                               seed=0, pause_second=0.0)
    batched = Synthesizer(models, batching=Batching())
    start = time.perf_counter()
    batched.warm_up()
    batched.warm_up_rest()
    report("e2e.parallel.warm_up", time.perf_counter() - start, "s (the batch graphs)")
    print(f"e2e.parallel.segments: {len(batched.segments(options))}")
    factors: dict[str, float] = {}
    for label, synth in (("parallel", batched), ("sequential", Synthesizer(models))):
        for attempt in ("first", "repeat"):
            start = time.perf_counter()
            rate, audio = synth.synthesize(options)
            total = time.perf_counter() - start
            report(f"e2e.{label}.{attempt}.total", total, "s")
            report(f"e2e.{label}.{attempt}.realtime_factor", total / (audio.size / rate), "x")
            factors[f"{label}.{attempt}"] = total / (audio.size / rate)
    report("e2e.parallel.repeat.speedup_over_sequential", factors["sequential.repeat"] / factors["parallel.repeat"], "x")
    report("e2e.parallel.repeat.speedup_over_whole", whole_factor / factors["parallel.repeat"], "x")
    batched.close()


def bench_http_section() -> None:
    from bench.http_bench import bench_http

    if not TOKENIZER.exists():
        print("http: skipped (needs the BERT tokenizer file at ../shared/golden/...)")
        return
    bench_http(REPO, TOKENIZER, SENTENCE, PROMPT_TEXT, write_reference_clip, report)


def bench_serve_section() -> None:
    from bench.serve_bench import bench_serve

    if not TOKENIZER.exists():
        print("serve: skipped (needs the BERT tokenizer file at ../shared/golden/...)")
        return
    bench_serve(REPO, TOKENIZER, SENTENCE, PROMPT_TEXT, write_reference_clip, report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated: " + " ".join(SECTIONS))
    parser.add_argument("--steps", type=int, default=120, help="GPT tokens to decode (after 10 warm-up)")
    parser.add_argument("--eager", action="store_true", help="plain op-by-op MindSpore (no compiled decoding)")
    args = parser.parse_args()
    if args.eager:
        os.environ["GPT_SOVITS_EAGER"] = "1"
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    from GPT_SoVITS import runtime

    runtime.configure("CPU")
    print(f"cpu.cores: {os.cpu_count()} (usable {len(os.sched_getaffinity(0))})")
    print(f"mode: {'eager (op by op)' if args.eager else 'default'}")
    roof = bench_roof() if "roof" in chosen or "gpt" in chosen else None
    if "gpt" in chosen:
        bench_gpt(args.steps, roof)
    for name, fn in (("sovits", bench_sovits), ("bert", bench_bert), ("hubert", bench_hubert),
                     ("frontend", bench_frontend), ("e2e", bench_e2e), ("http", bench_http_section),
                     ("serve", bench_serve_section)):
        if name in chosen:
            fn()
    report("memory.peak_rss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MB")


if __name__ == "__main__":
    main()
