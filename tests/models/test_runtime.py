"""`runtime.configure` on the CPU: oneDNN must run convolutions with its JIT kernels, never its reference
C++ loop (what it picks for plain-layout convolutions on AVX-512 CPUs unless capped). Each check runs in
a fresh interpreter, since oneDNN reads its ISA setting once per process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from GPT_SoVITS import runtime

REPO = Path(__file__).resolve().parents[2]
CONVOLUTION = """
import os
import numpy as np
from GPT_SoVITS import runtime
runtime.configure("CPU")
import mindspore as ms
from GPT_SoVITS.models.sovits.layers import Conv1d
conv = Conv1d(8, 8, 3, padding=1)
conv(ms.Tensor(np.ones((1, 8, 32), np.float32))).asnumpy()
print("isa=" + os.environ.get("ONEDNN_MAX_CPU_ISA", ""))
"""


def run_convolution(isa: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != runtime.ONEDNN_ISA_VARIABLE}
    env.update(ONEDNN_VERBOSE="1", GLOG_v="3", PYTHONPATH=str(REPO))
    if isa is not None:
        env[runtime.ONEDNN_ISA_VARIABLE] = isa
    done = subprocess.run([sys.executable, "-c", CONVOLUTION], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)
    return done.stdout


def convolution_kernels(verbose_output: str) -> list[str]:
    """The implementation column of oneDNN's verbose lines for executed convolutions."""
    kernels = []
    for line in verbose_output.splitlines():
        fields = line.split(",")
        if len(fields) > 6 and fields[2] == "primitive" and fields[3] == "exec" and fields[5] == "convolution":
            kernels.append(fields[6])
    return kernels


def test_configure_caps_onednn_so_convolutions_use_jit_kernels():
    output = run_convolution(None)
    assert f"isa={runtime.CPU_ISA_CAP}" in output
    kernels = convolution_kernels(output)
    assert kernels, output[-2000:]
    assert not any("ref" in kernel for kernel in kernels), kernels


def test_a_user_setting_of_the_isa_is_kept():
    output = run_convolution("ALL")
    assert "isa=ALL" in output
    assert convolution_kernels(output)


# Large arrays freed while a small allocation made after them is still alive: with glibc's growing mmap
# threshold the later ones come from the heap, and their memory stays with the process after `del`.
FREED_MEMORY = """
import sys
import numpy as np
from GPT_SoVITS import runtime
if sys.argv[1] == "configured":
    runtime.configure("CPU")

def resident_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

before = resident_mb()
first = np.ones(16 << 18, np.float32)  # 16 MB, mapped; freeing it raises glibc's threshold to 16 MB
del first
arrays = [np.ones(4 << 18, np.float32) for _ in range(40)]  # 160 MB of 4 MB arrays
keep = np.ones(64 << 10, np.float32)  # a later 256 kB block holds the heap's top
del arrays
print(resident_mb() - before)
"""


def retained_mb(mode: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO), "GLOG_v": "3"}
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    done = subprocess.run([sys.executable, "-c", FREED_MEMORY, mode], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def test_configure_makes_freed_large_arrays_return_their_memory():
    assert retained_mb("configured") < 40  # of 160 MB freed (MindSpore's import itself is not counted)
    assert retained_mb("plain") > 120  # the same without `configure`: what the setting is for
