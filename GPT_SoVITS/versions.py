"""The model versions and the weight files they need: one row each, the one place their differences live.

Every version rule reads this table: weight detection (`weights/version.py`, `weights/checkpoints.py`),
the SoVITS config and loader, the pipeline's model set and its missing-weights message, the service's
defaults and /healthz. Adding a version is adding its row here plus its back end under `models/`
(see CONTRIBUTING.md).

How a file is recognised: `weights/version.py` runs the reference's procedure over the tags and hashes
written here; the text embedding's rows then pick the symbol set (`SYMBOL_SETS`), and only a Pro
version stays itself: any other model is named after its symbol set (`model_version`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PRETRAINED = "GPT_SoVITS/pretrained_models"  # where the released files go, relative to the repository


@dataclass(frozen=True)
class SymbolSet:
    """A phone table of the text frontend, and the embedding sizes that give it away in a weight file."""

    name: str  # "v1" | "v2"
    symbols: int  # len(table): the rows of SoVITS's text embedding
    gpt_phoneme_vocab: int  # the GPT's phoneme_vocab_size: the rows of its text embedding


SYMBOL_SETS = {s.name: s for s in (SymbolSet("v1", 322, 512), SymbolSet("v2", 732, 732))}


@dataclass(frozen=True)
class WeightFile:
    key: str  # the `pipeline.ModelPaths` field
    what: str  # for messages: what the file or folder is
    name: str  # for tables
    shared: str | None = None  # the released file every version uses, under PRETRAINED (None: per version)


WEIGHT_FILES = {w.key: w for w in (
    WeightFile("gpt", "GPT (s1) checkpoint", "GPT"),
    WeightFile("sovits", "SoVITS (s2G) checkpoint", "SoVITS"),
    WeightFile("hubert", "chinese-hubert-base folder", "HuBERT", "chinese-hubert-base"),
    WeightFile("bert", "chinese-roberta-wwm-ext-large folder", "BERT", "chinese-roberta-wwm-ext-large"),
    WeightFile("speaker_verifier", "speaker-verification checkpoint (v2Pro/v2ProPlus)", "speaker verifier",
               "sv/pretrained_eres2netv2w24s4ep4.ckpt"),
)}
BASE_WEIGHTS = ("gpt", "sovits", "hubert", "bert")  # what every version needs
WHERE_TO_GET = ("Fetch the released files into "
                f"{PRETRAINED}/ with one command, python -m GPT_SoVITS.download v2 (or the version you use; from "
                "https://huggingface.co/lj1995/GPT-SoVITS, see README.md, 'Models and weights'), or point the "
                "settings at your files.")


@dataclass(frozen=True)
class ModelVersion:
    name: str  # as the reference names it (hps.model.version)
    symbols: str  # the symbol set (SYMBOL_SETS) of its released models and of its file tags
    pro: bool  # the timbre adds a speaker-verification embedding of each reference clip
    sample_rate: int  # output rate of its released models (a loaded model's own config is what counts)
    gpt_file: str | None = None  # its released GPT and SoVITS files, under PRETRAINED
    sovits_file: str | None = None
    tag: bytes | None = None  # the 2 bytes `my_save2` writes in place of `PK`
    lora_tag: bytes | None = None  # the same for its LoRA files
    pretrained_md5: tuple[str, ...] = ()  # md5 of the first 8192 bytes of released files that are this version
    supported: bool = True  # False: recognised, and refused with a message naming it
    extra_weights: tuple[str, ...] = ()  # `WEIGHT_FILES` it needs besides `BASE_WEIGHTS`

    @property
    def weights(self) -> tuple[str, ...]:
        """The `WEIGHT_FILES` a synthesis with this version needs."""
        return BASE_WEIGHTS + self.extra_weights

    def released(self) -> dict[str, str]:
        """Where each weight file it needs goes when downloaded, relative to the repository."""
        own = {"gpt": self.gpt_file, "sovits": self.sovits_file}
        return {key: f"{PRETRAINED}/{own.get(key) or WEIGHT_FILES[key].shared}" for key in self.weights}


_V2 = "gsv-v2final-pretrained"
_SV = ("speaker_verifier",)
VERSIONS = {v.name: v for v in (
    ModelVersion("v1", "v1", False, 32000, "s1bert25hz-2kh-longer-epoch=68e-step=50232.ckpt", "s2G488k.pth",
                 tag=b"00"),
    # The reference takes both released v1/v2 generators for v2; the weights then say v1 or v2.
    ModelVersion("v2", "v2", False, 32000, f"{_V2}/s1bert25hz-5kh-longer-epoch=12-step=369668.ckpt",
                 f"{_V2}/s2G2333k.pth", tag=b"01", pretrained_md5=(
                     "dc3c97e17592963677a4a1681f30c653",  # s2G488k.pth (the v1 release)
                     "6642b37f3dbb1f76882b69937c95a5f3")),  # s2G2333k.pth
    ModelVersion("v2Pro", "v2", True, 32000, "s1v3.ckpt", "v2Pro/s2Gv2Pro.pth", tag=b"05",
                 pretrained_md5=("c7e9fce2223f3db685cdfa1e6368728a",), extra_weights=_SV),
    ModelVersion("v2ProPlus", "v2", True, 32000, "s1v3.ckpt", "v2Pro/s2Gv2ProPlus.pth", tag=b"06",
                 pretrained_md5=("66b313e39455b57ab1b0bc0b239c9d0a",), extra_weights=_SV),
    ModelVersion("v3", "v2", False, 24000, tag=b"02", lora_tag=b"03", supported=False,
                 pretrained_md5=("43797be674a37c1c83ee81081941ed0f",)),
    ModelVersion("v4", "v2", False, 48000, lora_tag=b"04", supported=False,
                 pretrained_md5=("4f26b9476d0c5033e04162c486074374",)),
)}
DEFAULT_VERSION = "v2"  # whose released files are the default weight paths
SUPPORTED = tuple(name for name, v in VERSIONS.items() if v.supported)
PRO = frozenset(name for name, v in VERSIONS.items() if v.pro)


def is_pro(name: str | None) -> bool:
    return name in PRO


def sovits_symbols(text_embedding_rows: int) -> str:
    """The symbol set of a SoVITS text embedding: v1's size is v1, anything else v2 (as the reference)."""
    return "v1" if text_embedding_rows == SYMBOL_SETS["v1"].symbols else "v2"


def gpt_symbols(text_embedding_rows: int) -> str:
    """The symbol set of a GPT text embedding, by the same rule."""
    return "v1" if text_embedding_rows == SYMBOL_SETS["v1"].gpt_phoneme_vocab else "v2"


def model_version(symbols: str, claimed: str | None) -> str:
    """The model version a supported file ends with: a Pro claim stands, any other model is its symbol set."""
    return claimed if is_pro(claimed) else symbols


def default_paths(root: str | Path | None = None) -> dict[str, str]:
    """Every weight file's default location: the default version's release, and the shared files any
    version may need; under `root` (else relative to the repository)."""
    paths = {key: f"{PRETRAINED}/{w.shared}" for key, w in WEIGHT_FILES.items() if w.shared}
    paths.update(VERSIONS[DEFAULT_VERSION].released())
    return {key: str(Path(root) / paths[key]) if root is not None else paths[key] for key in WEIGHT_FILES}


def version_table() -> str:
    """The supported versions and the released files each needs, as a markdown table (README's)."""
    rows = ["| version | symbols | GPT | SoVITS | also needs | sample rate | file tag |", "|---" * 7 + "|"]
    for v in VERSIONS.values():
        if not v.supported:
            continue
        files = {key: path.removeprefix(PRETRAINED + "/") for key, path in v.released().items()}
        others = ", ".join(WEIGHT_FILES[key].name + (f" `{files[key]}`" if key in v.extra_weights else "")
                           for key in v.weights if key not in ("gpt", "sovits"))
        rows.append(f"| {v.name} | {v.symbols} | `{files['gpt']}` | `{files['sovits']}` | {others} | {v.sample_rate} "
                    f"| {v.tag.decode()} |")
    refused = ", ".join(name for name, v in VERSIONS.items() if not v.supported)
    return "\n".join(rows) + f"\n\nRecognised and refused with a message naming the version: {refused}, and LoRA files."


if __name__ == "__main__":
    print(version_table())
