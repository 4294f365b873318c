"""Chinese HuBERT (transformers' `HubertModel`, chinese-hubert-base) in MindSpore: 16 kHz audio -> 50 Hz features.

GPT-SoVITS calls the bare model on the raw waveform (no feature-extractor normalisation) with 0.6 s of
zeros appended, and uses `last_hidden_state`. Structure (the non-"stable" HuBERT): a convolutional
feature extractor (GroupNorm on the first layer only, exact GELU), a LayerNorm + linear feature projection,
a grouped positional convolution added to its input (same padding; an even kernel drops the last frame),
LayerNorm, then post-norm transformer layers. Sizes come from `config.json`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from .backends import WarmUpStage
from .layers import LayerNorm, Linear, gelu, zeros_parameter
from .sovits.layers import Conv1d
from .sovits.weight_norm import fold_weight_norm

GROUP_NORM_EPS = 1e-5  # torch.nn.GroupNorm default; the config's eps is for the LayerNorms
POS_CONV_WEIGHT_NORM_DIM = 2  # HuBERT's positional conv normalises over the kernel axis
SAMPLING_RATE = 16000
# Newer transformers save weight norm as a parametrization; older files (and the released folder) as g / v.
_PARAMETRIZED = {".parametrizations.weight.original0": ".weight_g", ".parametrizations.weight.original1": ".weight_v"}


@dataclass(frozen=True)
class HubertConfig:
    conv_dim: tuple[int, ...]
    conv_kernel: tuple[int, ...]
    conv_stride: tuple[int, ...]
    conv_bias: bool
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    num_conv_pos_embeddings: int
    num_conv_pos_embedding_groups: int
    layer_norm_eps: float
    feat_proj_layer_norm: bool = True

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> "HubertConfig":
        if config.get("feat_extract_norm", "group") != "group" or config.get("do_stable_layer_norm", False):
            raise ValueError("only the group-norm, post-norm HuBERT (chinese-hubert-base) is supported")
        for key in ("hidden_act", "feat_extract_activation"):
            if config.get(key, "gelu") != "gelu":
                raise ValueError(f"unsupported {key}: {config[key]!r} (expected gelu)")
        return cls(
            conv_dim=tuple(config["conv_dim"]), conv_kernel=tuple(config["conv_kernel"]),
            conv_stride=tuple(config["conv_stride"]), conv_bias=bool(config.get("conv_bias", False)),
            hidden_size=config["hidden_size"], num_hidden_layers=config["num_hidden_layers"],
            num_attention_heads=config["num_attention_heads"], intermediate_size=config["intermediate_size"],
            num_conv_pos_embeddings=config["num_conv_pos_embeddings"],
            num_conv_pos_embedding_groups=config["num_conv_pos_embedding_groups"],
            layer_norm_eps=float(config.get("layer_norm_eps", 1e-5)),
            feat_proj_layer_norm=bool(config.get("feat_proj_layer_norm", True)))


class ChannelGroupNorm(nn.Cell):
    """GroupNorm with one group per channel on [B, C, T]: each channel normalised over time."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = zeros_parameter(channels)
        self.bias = zeros_parameter(channels)

        self._normalise = ops.LayerNorm(begin_norm_axis=-1, begin_params_axis=-1, epsilon=GROUP_NORM_EPS)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        # A LayerNorm over time (unit scale, zero shift), then the per-channel affine. The scale is tiled
        # to x's shape first: broadcast arithmetic is several times slower on MindSpore's CPU backend.
        b, c, t = x.shape
        y = self._normalise(x, ops.ones((t,), x.dtype), ops.zeros((t,), x.dtype))[0]
        y = y * ops.tile(self.weight.reshape(1, c, 1), (b, 1, t))
        return ops.bias_add(y, self.bias)


class ConvLayer(nn.Cell):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, bias: bool, group_norm: bool):
        super().__init__()
        self.conv = Conv1d(c_in, c_out, kernel, stride=stride, bias=bias)
        self.layer_norm = ChannelGroupNorm(c_out) if group_norm else None

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        x = self.conv(x)
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return gelu(x)


class FeatureExtractor(nn.Cell):
    def __init__(self, cfg: HubertConfig):
        super().__init__()
        dims = (1,) + cfg.conv_dim
        self.conv_layers = nn.CellList([
            ConvLayer(dims[i], dims[i + 1], k, s, cfg.conv_bias, group_norm=(i == 0))
            for i, (k, s) in enumerate(zip(cfg.conv_kernel, cfg.conv_stride))])

    def construct(self, wav: ms.Tensor) -> ms.Tensor:
        x = wav.expand_dims(1)  # [B, N] -> [B, 1, N]
        for layer in self.conv_layers:
            x = layer(x)
        return x  # [B, C, frames]


class FeatureProjection(nn.Cell):
    def __init__(self, cfg: HubertConfig):
        super().__init__()
        self.layer_norm = LayerNorm(cfg.conv_dim[-1], cfg.layer_norm_eps) if cfg.feat_proj_layer_norm else None
        self.projection = Linear(cfg.conv_dim[-1], cfg.hidden_size)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.projection(self.layer_norm(x) if self.layer_norm is not None else x)


class PositionalConvEmbedding(nn.Cell):
    def __init__(self, cfg: HubertConfig):
        super().__init__()
        k = cfg.num_conv_pos_embeddings
        self.conv = Conv1d(cfg.hidden_size, cfg.hidden_size, k, padding=k // 2,
                           groups=cfg.num_conv_pos_embedding_groups)
        self.drop_last = k % 2 == 0  # padding k // 2 on both sides gives one frame too many

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        y = self.conv(x.transpose(0, 2, 1))
        if self.drop_last:
            y = y[:, :, :-1]
        return gelu(y).transpose(0, 2, 1)


class Attention(nn.Cell):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.scaling = self.head_dim ** -0.5
        self.q_proj, self.k_proj = Linear(dim, dim), Linear(dim, dim)
        self.v_proj, self.out_proj = Linear(dim, dim), Linear(dim, dim)

    def _split(self, x: ms.Tensor) -> ms.Tensor:
        b, t, _ = x.shape
        return x.reshape(b, t, self.heads, self.head_dim).transpose(0, 2, 1, 3)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        b, t, d = x.shape
        q = self._split(self.q_proj(x) * self.scaling)
        k, v = self._split(self.k_proj(x)), self._split(self.v_proj(x))
        p_attn = ops.softmax(ops.matmul(q, k.transpose(0, 1, 3, 2)), -1)
        return self.out_proj(ops.matmul(p_attn, v).transpose(0, 2, 1, 3).reshape(b, t, d))


class FeedForward(nn.Cell):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.intermediate_dense = Linear(dim, hidden)
        self.output_dense = Linear(hidden, dim)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.output_dense(gelu(self.intermediate_dense(x)))


class EncoderLayer(nn.Cell):
    """Post-norm: x = LN(x + attn(x)); x = LN'(x + ff(x))."""

    def __init__(self, cfg: HubertConfig):
        super().__init__()
        self.attention = Attention(cfg.hidden_size, cfg.num_attention_heads)
        self.layer_norm = LayerNorm(cfg.hidden_size, cfg.layer_norm_eps)
        self.feed_forward = FeedForward(cfg.hidden_size, cfg.intermediate_size)
        self.final_layer_norm = LayerNorm(cfg.hidden_size, cfg.layer_norm_eps)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        x = self.layer_norm(x + self.attention(x))
        return self.final_layer_norm(x + self.feed_forward(x))


class Encoder(nn.Cell):
    def __init__(self, cfg: HubertConfig):
        super().__init__()
        self.pos_conv_embed = PositionalConvEmbedding(cfg)
        self.layer_norm = LayerNorm(cfg.hidden_size, cfg.layer_norm_eps)
        self.layers = nn.CellList([EncoderLayer(cfg) for _ in range(cfg.num_hidden_layers)])

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        x = self.layer_norm(x + self.pos_conv_embed(x))
        for layer in self.layers:
            x = layer(x)
        return x


class HubertModel(nn.Cell):
    def __init__(self, cfg: HubertConfig):
        super().__init__()
        self.cfg = cfg
        self.feature_extractor = FeatureExtractor(cfg)
        self.feature_projection = FeatureProjection(cfg)
        self.encoder = Encoder(cfg)
        self.masked_spec_embed = zeros_parameter(cfg.hidden_size)  # training-time masking only; kept for strict loading

    def construct(self, wav: ms.Tensor) -> ms.Tensor:
        """wav [B, N] at 16 kHz -> last_hidden_state [B, frames, hidden]."""
        features = self.feature_extractor(wav).transpose(0, 2, 1)
        return self.encoder(self.feature_projection(features))

    def last_hidden_state(self, wav16k: np.ndarray | ms.Tensor) -> ms.Tensor:
        """[N] or [1, N] float waveform -> [1, frames, hidden]. The caller appends the reference's padding."""
        t = wav16k if isinstance(wav16k, ms.Tensor) else ms.Tensor(np.asarray(wav16k, dtype=np.float32))
        return self(t.reshape(1, -1).astype(ms.float32))

    # -- the SSL back end (`models.backends.SSLModel`) ---------------------------------------------
    def content(self, wav16k: np.ndarray) -> ms.Tensor:
        """`get_content`: [1, hidden, frames] features of a padded 16 kHz clip, for SoVITS's prompt codes."""
        return self.last_hidden_state(wav16k).transpose(0, 2, 1)

    def warm_up_stages(self, *, background: bool) -> list[WarmUpStage]:
        return []  # runs op by op; its first call is part of the pipeline's reference stage


def ssl_content(model: HubertModel, wav16k: np.ndarray, pad_samples: int) -> np.ndarray:
    """[1, hidden, frames] features of a 16 kHz clip as `get_tts_wav` computes them: `pad_samples` zeros
    appended (the reference sizes them int(sovits_rate * 0.3), i.e. 0.6 s at 16 kHz), then the bare model."""
    padded = np.concatenate([np.asarray(wav16k, dtype=np.float32), np.zeros(pad_samples, dtype=np.float32)])
    return model.last_hidden_state(padded).asnumpy().transpose(0, 2, 1)


def prepare_state(state: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """float32 arrays, parametrization names mapped to weight_g / weight_v, the positional conv folded."""
    renamed = {}
    for key, value in state.items():
        for new_suffix, old_suffix in _PARAMETRIZED.items():
            if key.endswith(new_suffix):
                key = key[: -len(new_suffix)] + old_suffix
        renamed[key.removeprefix("hubert.")] = np.asarray(value, dtype=np.float32)
    return fold_weight_norm(renamed, dim=POS_CONV_WEIGHT_NORM_DIM)


def load_hubert(folder: str | Path) -> HubertModel:
    """Build and load a Hugging Face HuBERT folder (`config.json` + `pytorch_model.bin`) without PyTorch."""
    from GPT_SoVITS.weights import load_hf_folder, load_into

    loaded = load_hf_folder(folder)
    model = HubertModel(HubertConfig.from_dict(loaded.config))
    load_into(model, prepare_state(loaded.state), source=str(folder))
    model.set_train(False)
    return model
