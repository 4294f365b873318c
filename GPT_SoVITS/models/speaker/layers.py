"""The small building blocks of ERes2NetV2: 2-D convolution, inference-only BatchNorm, the clipped ReLU, AFF.

Parameter names equal the PyTorch module's state-dict keys (`weight`, `bias`, `running_mean`, ...), so the
released checkpoint loads by exact name. `mint.nn.Conv2d` and `mint.nn.BatchNorm2d` have no CPU kernels in
MindSpore 2.10, hence these thin cells over the `ops.Conv2D` primitive (oneDNN on the CPU) and the functional
eval-mode `ops.batch_norm`.
"""
from __future__ import annotations

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, mint, nn, ops

BN_EPS = 1e-5
CLIP_MAX = 20.0  # the reference's block "ReLU" is Hardtanh(0, 20): activations above 20 are clipped


def clipped_relu(x: Tensor) -> Tensor:
    return mint.clamp(x, 0.0, CLIP_MAX)


class Conv2d(nn.Cell):
    """Square-kernel Conv2d with PyTorch's parameter layout `weight [out, in, k, k]` (+ optional `bias`)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = False):
        super().__init__()
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = Parameter(Tensor(np.zeros(shape, np.float32)), name="weight")
        self.bias = Parameter(Tensor(np.zeros(out_channels, np.float32)), name="bias") if bias else None
        self._conv = ops.Conv2D(out_channels, kernel_size, pad_mode="pad", pad=padding, stride=stride)

    def construct(self, x: Tensor) -> Tensor:
        out = self._conv(x, self.weight)
        if self.bias is not None:
            out = ops.bias_add(out, self.bias)  # far faster than a broadcast add on the CPU backend
        return out


class BatchNorm2d(nn.Cell):
    """BatchNorm over channels with the stored running statistics (inference only, eps 1e-5)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = Parameter(Tensor(np.ones(channels, np.float32)), name="weight")
        self.bias = Parameter(Tensor(np.zeros(channels, np.float32)), name="bias")
        self.running_mean = Parameter(Tensor(np.zeros(channels, np.float32)), name="running_mean",
                                      requires_grad=False)
        self.running_var = Parameter(Tensor(np.ones(channels, np.float32)), name="running_var",
                                     requires_grad=False)
        # Kept only so the checkpoint's counter has a home under strict loading; unused at inference.
        self.num_batches_tracked = Parameter(Tensor(0, ms.int64), name="num_batches_tracked", requires_grad=False)

    def construct(self, x: Tensor) -> Tensor:
        return ops.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training=False,
                              eps=BN_EPS)


class AFF(nn.Cell):
    """Attentional feature fusion: a per-position gate `w` in (0, 2) mixes two maps as x * w + y * (2 - w)."""

    def __init__(self, channels: int, inner_channels: int):
        super().__init__()
        # Index 2 (SiLU) has no parameters, so the keys are local_att.{0,1,3,4}.* as in the checkpoint.
        self.local_att = nn.SequentialCell([
            Conv2d(2 * channels, inner_channels, 1, bias=True),
            BatchNorm2d(inner_channels),
            nn.SiLU(),
            Conv2d(inner_channels, channels, 1, bias=True),
            BatchNorm2d(channels),
        ])

    def construct(self, x: Tensor, y: Tensor) -> Tensor:
        gate = 1.0 + mint.tanh(self.local_att(mint.cat([x, y], dim=1)))
        return x * gate + y * (2.0 - gate)
