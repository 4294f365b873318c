"""SoVITS model-version detection, as the reference does it.

`process_ckpt.get_sovits_version_from_path_fast` guesses from the file alone: md5 of the first 8192
bytes against the released pretrained files, then the 2-byte tag `my_save2` writes in place of `PK`,
then the file size. `inference_webui.change_sovits_weights` then overrides the symbol set from the
text-embedding rows (322 symbols = v1) and keeps the tag's model version only for the Pro models.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

SUPPORTED_MODELS = ("v1", "v2", "v2Pro", "v2ProPlus")
V1_SYMBOL_COUNT = 322  # len(symbols) of the v1 text frontend; v2 has 732
TEXT_EMBEDDING = "enc_p.text_embedding.weight"
GPT_V1_PHONEME_VOCAB = 512  # s1 configs: phoneme_vocab_size 512 (v1 symbols) or 732 (v2)


@dataclass(frozen=True)
class SovitsVersion:
    symbols: str  # "v1" | "v2": which text frontend (symbol table) the model was trained with
    model: str  # "v1" | "v2" | "v2Pro" | "v2ProPlus" | "v3" | "v4"
    lora: bool = False

    @property
    def is_pro(self) -> bool:
        return self.model in ("v2Pro", "v2ProPlus")


# `process_ckpt.head2version`: the tag bytes `my_save2` writes.
HEAD_TO_VERSION = {
    b"00": SovitsVersion("v1", "v1"),
    b"01": SovitsVersion("v2", "v2"),
    b"02": SovitsVersion("v2", "v3"),
    b"03": SovitsVersion("v2", "v3", lora=True),
    b"04": SovitsVersion("v2", "v4", lora=True),
    b"05": SovitsVersion("v2", "v2Pro"),
    b"06": SovitsVersion("v2", "v2ProPlus"),
}
VERSION_TO_HEAD = {v.model: head for head, v in HEAD_TO_VERSION.items() if not v.lora and v.model != "v3"}

# `process_ckpt.hash_pretrained_dict`: md5 of the first 8192 bytes of the released generator files.
PRETRAINED_MD5 = {
    "dc3c97e17592963677a4a1681f30c653": SovitsVersion("v2", "v2"),  # s2G488k.pth (v1 pretrained)
    "43797be674a37c1c83ee81081941ed0f": SovitsVersion("v2", "v3"),  # s2Gv3.pth
    "6642b37f3dbb1f76882b69937c95a5f3": SovitsVersion("v2", "v2"),  # s2G2333k.pth
    "4f26b9476d0c5033e04162c486074374": SovitsVersion("v2", "v4"),  # s2Gv4.pth
    "c7e9fce2223f3db685cdfa1e6368728a": SovitsVersion("v2", "v2Pro"),  # s2Gv2Pro.pth
    "66b313e39455b57ab1b0bc0b239c9d0a": SovitsVersion("v2", "v2ProPlus"),  # s2Gv2ProPlus.pth
}
# The reference's size thresholds for untagged files (fp16 v1 files are about 82942 KiB).
V1_MAX_BYTES = 82978 * 1024
V2_MAX_BYTES = 700 * 1024 * 1024


def version_from_file(path: str | Path) -> SovitsVersion:
    """`get_sovits_version_from_path_fast`: hash, then tag, then size. An unknown tag raises KeyError."""
    with open(path, "rb") as handle:
        first = handle.read(8192)
    known = PRETRAINED_MD5.get(hashlib.md5(first).hexdigest())
    if known is not None:
        return known
    if first[:2] != b"PK":
        return HEAD_TO_VERSION[first[:2]]
    size = os.path.getsize(path)
    if size < V1_MAX_BYTES:
        return SovitsVersion("v1", "v1")
    if size < V2_MAX_BYTES:
        return SovitsVersion("v2", "v2")
    return SovitsVersion("v2", "v3")


def symbols_from_weights(weight: Mapping[str, np.ndarray]) -> str:
    """`change_sovits_weights`' override: 322 text-embedding rows means the v1 symbol table."""
    embedding = weight.get(TEXT_EMBEDDING)
    return "v1" if embedding is not None and embedding.shape[0] == V1_SYMBOL_COUNT else "v2"


def resolve(fast: SovitsVersion, weight: Mapping[str, np.ndarray]) -> SovitsVersion:
    """The version `change_sovits_weights` ends with: symbols from the weights; the Pro tag decides Pro."""
    symbols = symbols_from_weights(weight)
    if fast.lora or fast.model in ("v3", "v4") or TEXT_EMBEDDING not in weight:
        return SovitsVersion("v2", fast.model if fast.model in ("v3", "v4") else "v3", fast.lora)
    return SovitsVersion(symbols, fast.model if fast.is_pro else symbols)
