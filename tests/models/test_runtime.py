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
