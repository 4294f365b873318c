"""MindSpore device set-up, done once per process before any model is built.

On the CPU, MindSpore's default asynchronous op-by-op launch costs milliseconds per kernel; blocking
launches make single ops far cheaper there, so `configure` turns them on for the CPU target.

On an AVX-512 CPU, the oneDNN inside MindSpore 2.10 (v3.10) runs every plain-layout convolution through
its reference C++ kernel (`jit_uni_ncsp:conv+ref:any` in `ONEDNN_VERBOSE=1`), so SoVITS takes minutes
per sentence. Capped at AVX2 it picks its JIT kernels: convolutions (transposed ones too) become fast
again, large matrix products a little slower, matrix-vector products (the GPT step) stay the same.
`configure` sets that cap unless `ONEDNN_MAX_CPU_ISA` is already set (`ALL` restores oneDNN's choice).

glibc's malloc keeps memory that large arrays gave back (its mmap threshold grows with each large free,
so later large arrays come from the heap, which it rarely trims): weight loading and the first runs of
each model left ~1.4 GB of the server's resident memory free but unreturned. `configure` fixes the
threshold (`release_freed_memory`), so large blocks are mapped and unmapped and their memory returns.
`discard_memory` gives back the pages of a buffer that is kept but no longer used (a key/value pool).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import shutil
import sys
from dataclasses import dataclass

DEVICE_TARGETS = ("CPU", "Ascend", "GPU")
ONEDNN_ISA_VARIABLE = "ONEDNN_MAX_CPU_ISA"
CPU_ISA_CAP = "AVX2"  # see the module docstring
_ON, _OFF = ("1", "true", "yes"), ("0", "false", "no")  # values of the GPT_SOVITS_* switches
# Blocks from this size on are mapped on their own and unmapped when freed; free heap memory above
# the trim threshold goes back at once (glibc's mallopt parameters).
MMAP_THRESHOLD_BYTES = 1 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MADV_DONTNEED = 4  # Linux


@dataclass(frozen=True)
class Runtime:
    device_target: str
    device_id: int


_configured: Runtime | None = None


def detect_device_target() -> str:
    """The best target this machine has: Ascend if its driver is present, then GPU, else CPU."""
    if os.path.isdir("/usr/local/Ascend") or shutil.which("npu-smi"):
        return "Ascend"
    if shutil.which("nvidia-smi"):
        return "GPU"
    return "CPU"


def configure(device_target: str | None = None, device_id: int = 0) -> Runtime:
    """Select the MindSpore device once; later calls return the first choice."""
    global _configured
    if _configured is not None:
        return _configured
    target = device_target or os.environ.get("MS_DEVICE_TARGET") or detect_device_target()
    if target not in DEVICE_TARGETS:
        raise ValueError(f"unknown device target {target!r}; choose one of {', '.join(DEVICE_TARGETS)}")
    release_freed_memory()
    import mindspore as ms

    if target == "CPU":
        # Read by oneDNN at its first kernel, so before any op runs; a no-op on a CPU without AVX-512.
        os.environ.setdefault(ONEDNN_ISA_VARIABLE, CPU_ISA_CAP)
    ms.set_device(target, device_id)
    if target == "CPU":
        ms.runtime.launch_blocking()
    _configured = Runtime(target, device_id)
    return _configured


def release_freed_memory() -> bool:
    """Make glibc return large freed blocks to the system (module docstring). Set in the environment,
    `MALLOC_MMAP_THRESHOLD_` / `MALLOC_TRIM_THRESHOLD_` win. False where the C library is not glibc."""
    path = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(path).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    done = True
    for parameter, variable in ((_M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_"),
                                (_M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_")):
        if variable not in os.environ:
            done = bool(mallopt(parameter, MMAP_THRESHOLD_BYTES)) and done
    return done


def discard_memory(address: int, nbytes: int) -> bool:
    """Zero `nbytes` of this process's memory at `address` (a CPU tensor's) and give its whole pages back
    to the system: they read as zero and take memory again only when written (`madvise(MADV_DONTNEED)`
    on private memory; the partial pages at either end are zeroed in place). False, touching nothing,
    on another device target (a parameter's memory is the device's there) or without the C library."""
    libc = _host_libc()
    if libc is None or nbytes <= 0:
        return False
    madvise, memset = libc
    page = os.sysconf("SC_PAGE_SIZE")
    end = address + nbytes
    first, last = -(-address // page) * page, end // page * page
    if last <= first:  # no whole page inside: zero it all
        memset(address, 0, nbytes)
        return True
    if madvise(first, last - first, _MADV_DONTNEED) != 0:
        return False
    memset(address, 0, first - address)
    memset(last, 0, end - last)
    return True


def zero_memory(address: int, nbytes: int) -> bool:
    """Zero `nbytes` of this process's memory at `address` (a CPU tensor's) in place: its pages stay,
    so writing there again costs no page faults. False, touching nothing, where `discard_memory` is."""
    libc = _host_libc()
    if libc is None:
        return False
    _, memset = libc
    if nbytes > 0:
        memset(address, 0, nbytes)
    return True


def _host_libc():
    """(madvise, memset) of the C library when tensors live in this process's memory (the CPU target
    on Linux), else None. Looked up once: `find_library` runs `ldconfig`, milliseconds a call."""
    if _configured is None or _configured.device_target != "CPU" or sys.platform != "linux":
        return None
    return _libc_functions()


@functools.cache
def _libc_functions():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        madvise, memset = libc.madvise, libc.memset
    except (OSError, AttributeError, TypeError):
        return None
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    memset.argtypes, memset.restype = (ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t), ctypes.c_void_p
    return madvise, memset


def compiled_decoding() -> bool:
    """Decode with compiled graphs (the default); `GPT_SOVITS_EAGER=1` runs the plain op-by-op path."""
    return os.environ.get("GPT_SOVITS_EAGER", "").lower() not in _ON


def compiled_generator() -> bool:
    """Run SoVITS's HiFi-GAN generator window by window through one compiled graph, and short inputs
    through short graphs, once the background warm-up has built them (op by op until then): on by default.
    On the CPU it saves time on an AVX-512 host and about breaks even on an AVX2 host (README,
    performance). `GPT_SOVITS_COMPILED_GENERATOR=0` (or `GPT_SOVITS_EAGER=1`) keeps it op by op."""
    return _compiled_unless_off("GPT_SOVITS_COMPILED_GENERATOR")


def dynamic_generator() -> bool:
    """Compile the generator as one graph with a dynamic time axis (`models/sovits/compiled.py`): on the
    CPU by default, where it decodes without padding, masks or overlap, compiles ~8x faster than the four
    fixed-size graphs and holds less memory. Other targets keep the fixed windows, the static shapes an
    NPU's graph compiler wants. `GPT_SOVITS_DYNAMIC_GENERATOR=1|0` overrides."""
    value = os.environ.get("GPT_SOVITS_DYNAMIC_GENERATOR", "").lower()
    if value in _ON or value in _OFF:
        return value in _ON
    return _configured is None or _configured.device_target == "CPU"


def fused_kernels() -> bool:
    """Run the generator's element-wise chains as fused C++ kernels (`models/sovits/fused.py`, MindSpore
    custom operators compiled with g++ at first use): on the CPU backend only, where each MindSpore op is
    a pass over memory; other targets keep MindSpore's ops (their graph compilers fuse element-wise work).
    `GPT_SOVITS_FUSED_KERNELS=0` turns them off."""
    if os.environ.get("GPT_SOVITS_FUSED_KERNELS", "").lower() in _OFF:
        return False
    return _configured is None or _configured.device_target == "CPU"


def compiled_prefill() -> bool:
    """Run the GPT prefill as a compiled graph per length bucket: on by default except on the CPU, where
    it gains little over op by op (the prefill is arithmetic-bound there) for seconds of compilation per
    new bucket, which a request would pay. `GPT_SOVITS_COMPILED_PREFILL=1|0` overrides."""
    return _compiled_by_default_off_cpu("GPT_SOVITS_COMPILED_PREFILL")


def compiled_bert() -> bool:
    """Run BERT through its compiled graph (one for every length) once the warm-up has built it; op by
    op until then, or always with `GPT_SOVITS_COMPILED_BERT=0` (or `GPT_SOVITS_EAGER=1`)."""
    return _compiled_unless_off("GPT_SOVITS_COMPILED_BERT")


def _compiled_unless_off(variable: str) -> bool:
    return compiled_decoding() and os.environ.get(variable, "").lower() not in _OFF


def _compiled_by_default_off_cpu(variable: str) -> bool:
    if not _compiled_unless_off(variable):
        return False
    if os.environ.get(variable, "").lower() in _ON:
        return True
    return _configured is None or _configured.device_target != "CPU"


def current() -> Runtime | None:
    return _configured
