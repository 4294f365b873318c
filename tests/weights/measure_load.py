"""Load time and peak memory of the torch-free reader on a large synthetic checkpoint (figures, no asserts).

    PYTHONPATH=tests python -m weights.measure_load [--mb 150] [--dir /tmp]   (from the repository root)

Writes a SoVITS-like `{"weight", "config", "info"}` file of fp16 tensors in the torch zip layout, then
in a fresh process per mode measures wall time and peak RSS of:
- `read`: `read_torch_checkpoint` and touching every value (the memory-mapped pages);
- `float32`: reading plus a float32 copy of every tensor (what `load_into` does for an fp16 file).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def write_synthetic(path: Path, megabytes: int) -> Path:
    from GPT_SoVITS.weights.hparams import HParams
    from weights.torch_writer import write_torch_zip

    rng = np.random.default_rng(0)
    values, weight, i = megabytes * 1024 * 1024 // 2, {}, 0
    while values > 0:  # layers of 192 x 192 x 5 ... 1 M values, like a decoder's convolutions
        n = min(values, int(rng.integers(100_000, 1_000_000)))
        weight[f"dec.resblocks.{i}.convs1.0.weight_v"] = rng.standard_normal(n, dtype=np.float32).astype(np.float16)
        values, i = values - n, i + 1
    config = HParams(model={"version": "v2"}, data={"hop_length": 640})
    return write_torch_zip(path, {"weight": weight, "config": config, "info": "synthetic"}, root="1732500000.1")


def _rss() -> tuple[int, int]:
    """(current, peak) resident set size in bytes, from /proc (Linux)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def _measure(path: str, mode: str) -> dict:
    from GPT_SoVITS.weights import read_torch_checkpoint

    Path("/proc/self/clear_refs").write_text("5")  # reset the peak so imports do not count
    before = _rss()[0]
    start = time.perf_counter()
    weight = read_torch_checkpoint(path)["weight"]
    opened = time.perf_counter() - start
    kept = []
    for array in weight.values():
        if mode == "float32":
            kept.append(np.array(array, dtype=np.float32))
        else:
            float(np.add.reduce(array, dtype=np.float32))
    total = time.perf_counter() - start
    return {"mode": mode, "open_s": opened, "total_s": total, "rss_before": before, "peak_rss": _rss()[1]}


def _child_environment() -> dict[str, str]:
    """`-m` puts the repository root (the child's cwd) on the path; PYTHONPATH adds tests/ (torch_writer)."""
    path = os.pathsep.join(p for p in (str(REPO / "tests"), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=150)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, mode = args.child
        print(json.dumps(_measure(path, mode)))
        return
    path = Path(args.dir) / "synthetic_sovits.pth"
    write_synthetic(path, args.mb)
    size = path.stat().st_size
    try:
        runs = {
            mode: json.loads(subprocess.check_output([sys.executable, "-m", "weights.measure_load", "--child",
                                                      str(path), mode], cwd=REPO, env=_child_environment()))
            for mode in ("read", "float32")
        }
    finally:
        os.remove(path)
    print(f"file: {size / 2**20:.1f} MiB")
    for run in runs.values():
        extra = run["peak_rss"] - run["rss_before"]
        print(
            f"{run['mode']:>8}: open {run['open_s']:.3f} s, all tensors {run['total_s']:.2f} s, "
            f"peak RSS above baseline {extra / 2**20:.0f} MiB = {extra / size:.2f} x file"
        )


if __name__ == "__main__":
    main()
