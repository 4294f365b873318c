"""Where the server's resident memory goes, stage by stage, in one process (full-size random weights).

    python -m bench.memory_breakdown [--weights DIR] [--no-batching]

Loads the four weight files as the server does (written once into DIR by `bench.weight_files` in a
child process, kept there for later runs), then runs what `api_ms.py` runs: the warm-up, the background
warm-up, and syntheses of the benchmark's text (cut5 streamed twice, whole, chunked). After each model,
each warm-up stage, each key/value pool and each batch graph, and each synthesis it prints `VmRSS` and
its growth since the line before (MB), and `VmHWM`: each model's and each graph's share. Figures only,
nothing asserted; the numbers differ a little from the server's (no web stack, no request threads).
"""
from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

from bench.run import PROMPT_TEXT, REPO, SENTENCE, TOKENIZER, write_reference_clip

_last = [0.0]


def _status() -> dict[str, float]:
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def mark(what: str) -> None:
    gc.collect()
    now = _status()
    print(f"{what:44s} rss {now['VmRSS']:7.0f} MB  (+{now['VmRSS'] - _last[0]:5.0f})  hwm {now['VmHWM']:7.0f}",
          flush=True)
    _last[0] = now["VmRSS"]


def _weight_paths(folder: Path):
    from bench.weight_files import write_in_child_process
    from GPT_SoVITS.pipeline.options import ModelPaths

    names = {"gpt": "gpt.ckpt", "sovits": "sovits.ckpt", "hubert": "hubert", "bert": "bert"}
    if not all((folder / name).exists() for name in names.values()):
        write_in_child_process(folder, TOKENIZER)
    return ModelPaths(**{key: str(folder / name) for key, name in names.items()})


def _load(paths):
    from GPT_SoVITS.models.bert import ChineseBert
    from GPT_SoVITS.models.gpt import load_gpt
    from GPT_SoVITS.models.hubert import load_hubert
    from GPT_SoVITS.models.sovits import load_sovits
    from GPT_SoVITS.pipeline.models import Models

    sovits = load_sovits(paths.sovits)
    mark("model sovits")
    gpt = load_gpt(paths.gpt)
    mark("model gpt")
    hubert = load_hubert(paths.hubert)
    mark("model hubert")
    bert = ChineseBert(paths.bert)
    mark("model bert")
    return Models(gpt=gpt, sovits=sovits, hubert=hubert, bert=bert, speaker=None, paths=paths)


def _mark_graphs() -> None:
    """A line after each key/value pool is built and after each batch graph is compiled."""
    from GPT_SoVITS.models.gpt import batch as batch_module
    from GPT_SoVITS.pipeline import warmup

    pool_init, graph_warm_up, timed = (batch_module.PoolBuffers.__init__, batch_module.SemanticBatch.warm_up,
                                       warmup._timed)

    def pool(self, model, size):
        pool_init(self, model, size)
        mark(f"    key/value pool of {size} positions")

    def graph(self, batches, pool_sizes):
        graph_warm_up(self, batches, pool_sizes)
        mark(f"    batch graph {batches} rows x {pool_sizes} positions")

    def stage(timings, name, fn):
        result = timed(timings, name, fn)
        mark(f"  stage {name} ({timings[name]:.1f} s)")
        return result

    batch_module.PoolBuffers.__init__, batch_module.SemanticBatch.warm_up, warmup._timed = pool, graph, stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=REPO / ".bench_weights",
                        help="folder of the full-size random weight files (written there if absent)")
    parser.add_argument("--no-batching", action="store_true", help="as api_ms.py --no-batching")
    args = parser.parse_args()
    mark("start")
    from GPT_SoVITS import runtime

    runtime.configure("CPU")
    import mindspore  # noqa: F401

    from GPT_SoVITS.pipeline.options import Batching, ChunkPlan, SynthesisOptions
    from GPT_SoVITS.pipeline.synthesizer import Synthesizer

    mark("MindSpore and the pipeline imported")
    paths = _weight_paths(args.weights)
    models = _load(paths)
    _mark_graphs()
    synth = Synthesizer(models, batching=None if args.no_batching else Batching())
    print("warm-up (before ready):")
    synth.warm_up()
    print("background warm-up:")
    synth.warm_up_rest()
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "ref.wav"
        write_reference_clip(clip)
        for label, cut, chunks in (("cut5, new voice", "cut5", None), ("cut5", "cut5", None), ("whole", "cut1", None),
                                   ("chunked", "cut5", ChunkPlan(at_pauses=False))):
            options = SynthesisOptions(ref_wav_path=str(clip), text=SENTENCE, prompt_text=PROMPT_TEXT,
                                       how_to_cut=cut, seed=0, pause_second=0.0, chunks=chunks)
            start = time.perf_counter()
            samples = sum(chunk.size for chunk in synth.stream(options))
            mark(f"synthesis {label} ({samples / synth.sample_rate:.1f} s audio, "
                 f"{time.perf_counter() - start:.0f} s)")
    synth.close()


if __name__ == "__main__":
    main()
