"""Model-level readers: a GPT (s1), SoVITS (s2) or speaker-verifier file -> config, weights, version.

Each accepts the reference's PyTorch file or the original port's MindSpore `.ckpt` (told apart by the
first bytes), and says clearly when a file is of another kind (a GPT file given as SoVITS, ...).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .. import versions
from . import version as detection
from .errors import WeightLoadError
from .hparams import HParams
from .mindspore_ckpt import MODEL_VERSION_KEY, MindSporeCheckpoint, guess_kind, read_mindspore_checkpoint
from .torch_zip import is_torch_zip, read_torch_checkpoint, version_tag
from .version import SovitsVersion

GPT_PREFIX = "model."  # the Lightning wrapper's attribute name in s1 checkpoints
SOVITS_TRAINING_ONLY = ("enc_q.",)  # the posterior encoder: the webui deletes it, inference never builds it
_KIND_NAMES = {"gpt": "a GPT (s1, text-to-semantic) checkpoint", "sovits": "a SoVITS (s2) checkpoint"}


@dataclass
class GptCheckpoint:
    config: dict[str, Any]  # the s1 yaml as a nested dict (`model`, `data.max_sec`, ...)
    state: dict[str, np.ndarray]  # `Text2SemanticDecoder` names (the `model.` prefix stripped)
    info: Any
    version: str  # "v1" | "v2": the phoneme table the text embedding was built for


@dataclass
class SovitsCheckpoint:
    hps: HParams  # `hps.model.version` set to the detected model version, like the reference
    state: dict[str, np.ndarray]  # `SynthesizerTrn` names, without the training-only `enc_q.*`
    version: SovitsVersion
    info: Any


def _read(path: str | Path) -> tuple[Any, bool]:
    """(content, is_torch): a torch zip is unpickled; anything else is tried as a MindSpore ckpt."""
    path = Path(path)
    if not path.is_file():
        raise WeightLoadError(f"{path}: no such weight file")
    if path.stat().st_size == 0:
        raise WeightLoadError(f"{path}: the file is empty")
    if is_torch_zip(path):
        return read_torch_checkpoint(path), True
    with open(path, "rb") as handle:
        if handle.read(1) == b"\x80":  # a bare pickle: torch.save before PyTorch 1.6
            raise WeightLoadError(f"{path}: a legacy (pre-zip) PyTorch file; re-save it with a current torch.save")
    return read_mindspore_checkpoint(path), False


def _wrapped(path: Path, content: Any) -> tuple[Mapping[str, np.ndarray], Any, Any]:
    """(weight, config, info) of a `{"weight", "config", "info"}` file; a clear error for anything else."""
    if isinstance(content, MindSporeCheckpoint):
        return content.state, content.config, content.info
    if isinstance(content, Mapping) and "weight" in content and isinstance(content["weight"], Mapping):
        return content["weight"], content.get("config"), content.get("info")
    if isinstance(content, Mapping) and content and all(isinstance(v, np.ndarray) for v in content.values()):
        raise WeightLoadError(
            f"{path}: a bare state dict ({len(content)} tensors, e.g. {next(iter(content))!r}), not a GPT or "
            "SoVITS model file with `weight` and `config` (a speaker-verifier or Hugging Face weight file?)"
        )
    raise WeightLoadError(f"{path}: not a GPT-SoVITS model file (no `weight` dict inside)")


def _expect(path: Path, weight: Mapping[str, Any], kind: str) -> None:
    found = guess_kind(weight)
    if found != kind:
        what = _KIND_NAMES.get(found, "not a GPT-SoVITS model file")
        raise WeightLoadError(f"{path}: this is {what}, but {_KIND_NAMES[kind]} was expected")


def load_gpt_checkpoint(path: str | Path) -> GptCheckpoint:
    """A GPT (s1) `.ckpt`, PyTorch or MindSpore: config dict, weights without `model.`, phoneme version."""
    path = Path(path)
    content, _ = _read(path)
    weight, config, info = _wrapped(path, content)
    _expect(path, weight, "gpt")
    if not isinstance(config, Mapping) or "model" not in config:
        raise WeightLoadError(f"{path}: the GPT checkpoint has no `config` with a `model` section")
    state = {name.removeprefix(GPT_PREFIX): array for name, array in weight.items()}
    version = versions.gpt_symbols(state["ar_text_embedding.word_embeddings.weight"].shape[0])
    return GptCheckpoint(dict(config), state, info, version)


def _mindspore_version(content: MindSporeCheckpoint, hps: HParams, weight: Mapping[str, Any]) -> SovitsVersion:
    """No header to read: our converter stores the model version; the port's files are v1/v2 (a Pro
    file without a stored version, which only the Pro layer `sv_emb` gives away, is taken for v2Pro)."""
    stored = content.extra.get(MODEL_VERSION_KEY) or hps.get("model", HParams()).get("version")
    symbols = detection.symbols_from_weights(weight)
    if "sv_emb.weight" in weight:
        return SovitsVersion(symbols, stored if versions.is_pro(stored) else "v2Pro")
    claimed = stored or "v2"
    if claimed not in versions.SUPPORTED:  # kept, for the message that refuses it
        return SovitsVersion(symbols, claimed)
    return SovitsVersion(symbols, versions.model_version(symbols, claimed))


def load_sovits_checkpoint(path: str | Path) -> SovitsCheckpoint:
    """A SoVITS (s2) `.pth` (or the port's `.ckpt`) with the reference's version detection.

    v3, v4 and LoRA files are refused with a message naming the version.
    """
    path = Path(path)
    content, is_torch = _read(path)
    weight, config, info = _wrapped(path, content)
    _expect(path, weight, "sovits")
    if not isinstance(config, Mapping) or "model" not in config or "data" not in config:
        raise WeightLoadError(f"{path}: the SoVITS checkpoint has no `config` with `model` and `data` sections")
    hps = config if isinstance(config, HParams) else HParams(config)
    if is_torch:
        try:
            fast = detection.version_from_file(path)
        except KeyError:
            raise WeightLoadError(f"{path}: unknown SoVITS version tag {version_tag(path)!r}") from None
        version = detection.resolve(fast, weight)
    else:
        version = _mindspore_version(content, hps, weight)
    if version.model not in versions.SUPPORTED or version.lora:
        kind = f"SoVITS {version.model}" + (" LoRA" if version.lora else "")
        raise WeightLoadError(
            f"{path}: {kind} models are not supported yet (supported: {', '.join(versions.SUPPORTED)})"
        )
    hps.model.semantic_frame_rate = "25hz"  # the reference forces it before building the model
    hps.model.version = version.model
    state = {name: array for name, array in weight.items() if not name.startswith(SOVITS_TRAINING_ONLY)}
    return SovitsCheckpoint(hps, state, version, info)


def load_speaker_verifier_checkpoint(path: str | Path) -> dict[str, np.ndarray]:
    """The ERes2NetV2 speaker-verification `.ckpt`: a bare state dict (int64 BatchNorm counters kept)."""
    path = Path(path)
    content, _ = _read(path)
    state = content.state if isinstance(content, MindSporeCheckpoint) else content
    if not isinstance(state, Mapping) or not state or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise WeightLoadError(f"{path}: not a speaker-verifier checkpoint (expected a bare state dict of tensors)")
    if "conv1.weight" not in state:
        raise WeightLoadError(f"{path}: not an ERes2NetV2 state dict (no `conv1.weight`)")
    return dict(state)


def identify_weights(path: str | Path) -> str:
    """What a file or folder holds, for sorting a folder of mixed weights without loading a model.

    One of "gpt", "sovits", "speaker_verifier", "hf_folder", "state_dict" (another bare state dict);
    `WeightLoadError` for anything unreadable.
    """
    path = Path(path)
    if path.is_dir():
        from .hf import WEIGHT_FILES

        if (path / "config.json").is_file() and any((path / name).is_file() for name in WEIGHT_FILES):
            return "hf_folder"
        raise WeightLoadError(f"{path}: a folder without config.json and weights")
    content, _ = _read(path)
    if isinstance(content, MindSporeCheckpoint):
        weight = content.state
    elif isinstance(content, Mapping) and isinstance(content.get("weight"), Mapping):
        weight = content["weight"]
    elif isinstance(content, Mapping) and all(isinstance(v, np.ndarray) for v in content.values()):
        weight = content
    else:
        raise WeightLoadError(f"{path}: not a weight file (no tensors at the top level or under `weight`)")
    kind = guess_kind(weight)
    if kind != "other":
        return kind
    return "speaker_verifier" if "conv1.weight" in weight else "state_dict"
