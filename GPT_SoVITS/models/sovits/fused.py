"""Fused element-wise kernels for the generator on the CPU (`fused_kernels.cc`, MindSpore `ops.Custom` "aot").

Between its convolutions the HiFi-GAN generator runs chains of small ops over large tensors: leaky ReLU
is a Mul and a Maximum, every convolution's bias a BiasAdd, every residual branch an Add, the average of
the resblocks two Adds and a Mul. On the CPU each is a pass over memory; these kernels do each chain in
one pass, with the same float32 arithmetic in the same order (bitwise the same audio).

The kernels are compiled with the system's g++ at first use into `$XDG_CACHE_HOME/gpt_sovits/kernels/`
(named by the source's hash, so an update rebuilds). Where that fails (no compiler), where
`MS_CUSTOM_AOT_WHITE_LIST` excludes that folder, or off the CPU backend (`runtime.fused_kernels()`),
`fused_ops()` is None and the generator runs MindSpore's ops.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ... import runtime

log = logging.getLogger(__name__)
SOURCE = Path(__file__).with_name("fused_kernels.cc")
AOT_WHITE_LIST = "MS_CUSTOM_AOT_WHITE_LIST"  # where set, MindSpore loads custom-op libraries only from there
COMPILER = ("g++", "-O3", "-std=c++17", "-shared", "-fPIC", "-pthread")


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gpt_sovits" / "kernels"


def build_library() -> Path:
    """The compiled kernels (built once per source version; raises if g++ fails)."""
    code = SOURCE.read_bytes()
    digest = hashlib.sha256(code + " ".join(COMPILER).encode()).hexdigest()[:16]
    target = _cache_dir() / f"fused_kernels-{digest}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        built = Path(tmp) / target.name
        subprocess.run([*COMPILER, "-o", str(built), str(SOURCE)], check=True, capture_output=True, timeout=120)
        os.replace(built, target)  # atomic: a concurrent process sees the whole file or none
    return target


class FusedOps(nn.Cell):
    """The kernels as MindSpore primitives, usable op by op and inside compiled graphs (a cell without
    parameters, shared by the generator and its resblocks). Slopes are one-element float32 tensors."""

    def __init__(self, library: Path):
        super().__init__()

        def custom(name: str) -> ops.Custom:
            # Shape and type from the library's <name>InferShape / <name>InferType (the Python ones fail
            # under a dynamic axis). MindSpore 2.10's C++ inference reads `reg_op_name`, which only a
            # CustomRegOp sets: without it every call fails with "The pointer[value] is null".
            op = ops.Custom(f"{library}:{name}", out_shape=None, out_dtype=None, func_type="aot")
            op.add_prim_attr("reg_op_name", name)
            return op

        self._leaky_relu = custom("LeakyRelu")
        self._bias_leaky_relu = custom("BiasLeakyRelu")
        self._bias_residual = custom("BiasResidual")
        self._mean_leaky_relu = custom("MeanLeakyRelu")

    def leaky_relu(self, x: ms.Tensor, slope: ms.Tensor) -> ms.Tensor:
        return self._leaky_relu(x, slope)

    def bias_leaky_relu(self, x: ms.Tensor, bias: ms.Tensor, slope: ms.Tensor) -> ms.Tensor:
        """leaky_relu(x + bias) for x [B, C, T], bias [C]."""
        return self._bias_leaky_relu(x, bias, slope)

    def bias_residual(self, x: ms.Tensor, d: ms.Tensor, bias: ms.Tensor) -> ms.Tensor:
        """x + (d + bias): a residual branch's convolution output d, its bias added."""
        return self._bias_residual(x, d, bias)

    def mean_leaky_relu(self, slope: ms.Tensor, branches: tuple[ms.Tensor, ...]) -> ms.Tensor:
        """leaky_relu(sum(branches) * (1 / len(branches)))."""
        return self._mean_leaky_relu(slope, *branches)


def slope_tensor(value: float) -> ms.Tensor:
    """A leaky ReLU slope as the kernels read it."""
    return ms.Tensor(np.array([value], np.float32))


@functools.cache
def fused_ops() -> FusedOps | None:
    """The CPU kernels, or None where `runtime.fused_kernels()` is off or they cannot be built."""
    if not runtime.fused_kernels():
        return None
    try:
        library = build_library()
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        log.warning("fused generator kernels unavailable, using MindSpore's ops: %s %s", error,
                    detail.decode(errors="replace")[:500])
        return None
    allowed = os.environ.get(AOT_WHITE_LIST)
    if allowed and not library.resolve().is_relative_to(Path(allowed).resolve()):
        # MindSpore would refuse the library at the first decode; say why here instead.
        log.warning("fused generator kernels not used: %s is outside %s=%s; using MindSpore's ops",
                    library, AOT_WHITE_LIST, allowed)
        return None
    return FusedOps(library)
