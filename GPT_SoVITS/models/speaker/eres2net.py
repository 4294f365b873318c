"""ERes2NetV2 (3D-Speaker), the speaker-verification network of v2Pro/v2ProPlus, as far as `forward3` uses it.

Input: Kaldi fbank `[B, T, 80]`, treated as a one-channel image with frequency as height and time as width.
A ResNet-like trunk of four stages (strides 1, 2, 2, 2 on both axes) follows; each block splits its bottleneck
into `scale` groups processed in a cascade (Res2Net), joined by `+` in stages 1-2 and by attentional fusion (AFF)
in stages 3-4. Stage 3 is downsampled once more and fused with stage 4 (`fuse34`); `forward3` flattens channels
and frequency and averages over time. The pooling and `seg_1` projection of the full model are not used by the
reference's v2Pro path, so they are not built here (their weights are checked and dropped by the loader).

All sizes come from `ERes2NetV2Dims`, which reads them from a checkpoint's shapes, so the released
`pretrained_eres2netv2w24s4ep4.ckpt` and narrower test models run through the same code.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np
from mindspore import Tensor, mint, nn

from .layers import AFF, BatchNorm2d, Conv2d, clipped_relu

STAGE_STRIDES = (1, 2, 2, 2)
STAGE_USES_AFF = (False, False, True, True)  # ERes2NetV2: plain "+" cascade in stages 1-2, AFF in stages 3-4
AFF_REDUCTION = 4  # AFF(channels, r=4): inner width channels // 4
STAGE_NAMES = ("stem", "layer1", "layer2", "layer3", "layer4", "layer3_ds", "fuse34")


@dataclass(frozen=True)
class ERes2NetV2Dims:
    """Sizes of one ERes2NetV2; the defaults are `sv.py`'s `ERes2NetV2(baseWidth=24, scale=4, expansion=4)`."""

    m_channels: int = 64
    expansion: int = 4
    scale: int = 4
    widths: tuple[int, ...] = (24, 48, 96, 192)  # per-stage group width floor(planes * baseWidth / 64)
    num_blocks: tuple[int, ...] = (3, 4, 6, 3)
    embedding_size: int = 192  # size of the unused seg_1 projection, kept to check the file
    feat_dim: int = 80

    @classmethod
    def from_base_width(cls, m_channels: int = 64, base_width: int = 24, **kwargs) -> "ERes2NetV2Dims":
        """The constructor arguments of the reference class (the width is floored, as there)."""
        planes = [m_channels * 2**s for s in range(4)]
        widths = tuple(int(math.floor(p * base_width / 64.0)) for p in planes)
        return cls(m_channels=m_channels, widths=widths, **kwargs)

    @classmethod
    def from_state_dict(cls, state: Mapping[str, np.ndarray]) -> "ERes2NetV2Dims":
        """Read every size from a checkpoint's keys and shapes (see the golden README's table)."""
        m_channels = state["conv1.weight"].shape[0]
        expansion = state["layer1.0.conv3.weight"].shape[0] // m_channels
        scale = len({k for k in state if re.fullmatch(r"layer1\.0\.convs\.\d+\.weight", k)})
        widths = tuple(state[f"layer{s}.0.convs.0.weight"].shape[0] for s in range(1, 5))
        num_blocks = tuple(
            len({m.group(1) for k in state if (m := re.match(rf"layer{s}\.(\d+)\.", k))}) for s in range(1, 5)
        )
        embedding_size, seg_in = state["seg_1.weight"].shape
        # seg_1 takes mean and std of the fuse34 map: 2 * (feat_dim // 8) * m_channels * 8 * expansion inputs.
        feat_dim = 8 * (seg_in // (2 * m_channels * 8 * expansion))
        return cls(m_channels, expansion, scale, widths, num_blocks, embedding_size, feat_dim)

    def planes(self, stage: int) -> int:
        return self.m_channels * 2**stage

    def stage_channels(self, stage: int) -> int:
        return self.planes(stage) * self.expansion

    @property
    def pooled_freq(self) -> int:
        """Frequency rows left after the three stride-2 stages."""
        rows = self.feat_dim
        for stride in STAGE_STRIDES[1:]:
            rows = -(-rows // stride)
        return rows

    @property
    def embedding_dim(self) -> int:
        """Length of the `forward3` embedding: fuse34 channels x remaining frequency rows."""
        return self.stage_channels(3) * self.pooled_freq


class Block(nn.Cell):
    """One ERes2NetV2 bottleneck block: 1x1 conv, cascaded 3x3 convs over `scale` groups, 1x1 conv, residual."""

    def __init__(self, in_channels: int, planes: int, stride: int, width: int, dims: ERes2NetV2Dims,
                 fuse: bool):
        super().__init__()
        out_channels = planes * dims.expansion
        self.width = width
        self.conv1 = Conv2d(in_channels, width * dims.scale, 1, stride=stride)
        self.bn1 = BatchNorm2d(width * dims.scale)
        self.convs = nn.CellList([Conv2d(width, width, 3, padding=1) for _ in range(dims.scale)])
        self.bns = nn.CellList([BatchNorm2d(width) for _ in range(dims.scale)])
        self.fuse_models = (
            nn.CellList([AFF(width, width // AFF_REDUCTION) for _ in range(dims.scale - 1)]) if fuse else None
        )
        self.conv3 = Conv2d(width * dims.scale, out_channels, 1)
        self.bn3 = BatchNorm2d(out_channels)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.SequentialCell([Conv2d(in_channels, out_channels, 1, stride=stride),
                                               BatchNorm2d(out_channels)])

    def construct(self, x: Tensor) -> Tensor:
        groups = mint.split(clipped_relu(self.bn1(self.conv1(x))), self.width, dim=1)
        outputs = []
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            if i == 0:
                sp = groups[0]
            elif self.fuse_models is None:
                sp = sp + groups[i]
            else:
                sp = self.fuse_models[i - 1](sp, groups[i])
            sp = clipped_relu(bn(conv(sp)))
            outputs.append(sp)
        out = self.bn3(self.conv3(mint.cat(outputs, dim=1)))
        residual = x if self.shortcut is None else self.shortcut(x)
        return clipped_relu(out + residual)


class ERes2NetV2(nn.Cell):
    """The trunk up to `fuse34`; `construct` is the reference's `forward3` (fbank -> embedding)."""

    def __init__(self, dims: ERes2NetV2Dims = ERes2NetV2Dims()):
        super().__init__()
        self.dims = dims
        self.conv1 = Conv2d(1, dims.m_channels, 3, padding=1)
        self.bn1 = BatchNorm2d(dims.m_channels)
        in_channels = dims.m_channels
        for stage in range(4):
            blocks = []
            for i in range(dims.num_blocks[stage]):
                stride = STAGE_STRIDES[stage] if i == 0 else 1
                blocks.append(Block(in_channels, dims.planes(stage), stride, dims.widths[stage], dims,
                                    STAGE_USES_AFF[stage]))
                in_channels = dims.stage_channels(stage)
            setattr(self, f"layer{stage + 1}", nn.SequentialCell(blocks))
        self.layer3_ds = Conv2d(dims.stage_channels(2), dims.stage_channels(3), 3, stride=2, padding=1)
        self.fuse34 = AFF(dims.stage_channels(3), dims.stage_channels(3) // AFF_REDUCTION)

    def stages(self, feat: Tensor) -> dict[str, Tensor]:
        """Every stage output `[B, C, F, T']`, keyed by `STAGE_NAMES`, for `feat [B, T, feat_dim]`."""
        x = feat.permute(0, 2, 1).unsqueeze(1)  # [B, 1, F, T]: frequency is the image height
        out = {"stem": mint.nn.functional.relu(self.bn1(self.conv1(x)))}  # a plain ReLU here, not the clip
        out["layer1"] = self.layer1(out["stem"])
        out["layer2"] = self.layer2(out["layer1"])
        out["layer3"] = self.layer3(out["layer2"])
        out["layer4"] = self.layer4(out["layer3"])
        out["layer3_ds"] = self.layer3_ds(out["layer3"])
        out["fuse34"] = self.fuse34(out["layer4"], out["layer3_ds"])
        return out

    def construct(self, feat: Tensor) -> Tensor:
        """`forward3`: fuse34 `[B, C, F', T']` -> `[B, C * F']` (channel-major), mean over time."""
        return self.stages(feat)["fuse34"].flatten(start_dim=1, end_dim=2).mean(-1)
