"""SoVITS dimensions read from a checkpoint's hps, plus the versions' differences."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ... import versions

V2_REF_BINS = 704  # v2+ reference encoders see only the lowest 704 frequency bins
SSL_DIM = 768  # HuBERT width, fixed by the reference (ssl_proj, TextEncoder.ssl_proj)
SV_EMBEDDING_DIM = 20480  # ERes2NetV2 `forward3` width feeding `sv_emb`


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """hps sections arrive as attribute containers or dicts, depending on the reader."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


@dataclass(frozen=True)
class SoVITSConfig:
    version: str  # model version (a supported one of `GPT_SoVITS.versions`)
    n_symbols: int  # rows of enc_p.text_embedding (the symbol table's size)
    spec_channels: int
    inter_channels: int
    hidden_channels: int
    filter_channels: int
    n_heads: int
    n_layers: int
    kernel_size: int
    resblock: str
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    upsample_rates: tuple[int, ...]
    upsample_initial_channel: int
    upsample_kernel_sizes: tuple[int, ...]
    gin_channels: int
    semantic_frame_rate: str = "25hz"

    @property
    def is_pro(self) -> bool:
        return versions.is_pro(self.version)

    @property
    def frames_per_code(self) -> int:
        """50 Hz frames per semantic code: 25 Hz codes are repeated twice (nearest upsampling)."""
        return 2 if self.semantic_frame_rate == "25hz" else 1

    @property
    def samples_per_frame(self) -> int:
        """Output samples per frame: the generator's total upsampling (the STFT hop)."""
        return math.prod(self.upsample_rates)

    @property
    def ref_bins(self) -> int:
        return self.spec_channels if self.version == "v1" else V2_REF_BINS

    @classmethod
    def from_hps(cls, hps: Any, version: str, n_symbols: int) -> "SoVITSConfig":
        model, data = _get(hps, "model"), _get(hps, "data")
        ints = lambda seq: tuple(int(v) for v in seq)  # noqa: E731
        return cls(
            version=version,
            n_symbols=n_symbols,
            spec_channels=int(_get(data, "filter_length")) // 2 + 1,
            inter_channels=int(_get(model, "inter_channels")),
            hidden_channels=int(_get(model, "hidden_channels")),
            filter_channels=int(_get(model, "filter_channels")),
            n_heads=int(_get(model, "n_heads")),
            n_layers=int(_get(model, "n_layers")),
            kernel_size=int(_get(model, "kernel_size")),
            resblock=str(_get(model, "resblock")),
            resblock_kernel_sizes=ints(_get(model, "resblock_kernel_sizes")),
            resblock_dilation_sizes=tuple(ints(d) for d in _get(model, "resblock_dilation_sizes")),
            upsample_rates=ints(_get(model, "upsample_rates")),
            upsample_initial_channel=int(_get(model, "upsample_initial_channel")),
            upsample_kernel_sizes=ints(_get(model, "upsample_kernel_sizes")),
            gin_channels=int(_get(model, "gin_channels")),
            # The webui forces 25 Hz whatever the file says.
            semantic_frame_rate="25hz",
        )
