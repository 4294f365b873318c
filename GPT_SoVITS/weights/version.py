"""SoVITS model-version detection, as the reference does it.

`process_ckpt.get_sovits_version_from_path_fast` guesses from the file alone: md5 of the first 8192
bytes against the released pretrained files, then the 2-byte tag `my_save2` writes in place of `PK`,
then the file size. `inference_webui.change_sovits_weights` then overrides the symbol set from the
text-embedding rows and keeps the tag's model version only for the Pro models. The tags, hashes and
symbol-table sizes are the registry's (`GPT_SoVITS.versions`); this module is the procedure.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from .. import versions

TEXT_EMBEDDING = "enc_p.text_embedding.weight"


@dataclass(frozen=True)
class SovitsVersion:
    symbols: str  # "v1" | "v2": which text frontend (symbol table) the model was trained with
    model: str  # a name of `GPT_SoVITS.versions.VERSIONS`
    lora: bool = False

    @property
    def is_pro(self) -> bool:
        return versions.is_pro(self.model)


# `process_ckpt.head2version` and `hash_pretrained_dict`, from the registry's tags and released files.
HEAD_TO_VERSION = {tag: SovitsVersion(v.symbols, v.name, lora) for v in versions.VERSIONS.values()
                   for tag, lora in ((v.tag, False), (v.lora_tag, True)) if tag is not None}
PRETRAINED_MD5 = {md5: SovitsVersion(v.symbols, v.name) for v in versions.VERSIONS.values()
                  for md5 in v.pretrained_md5}
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
    """`change_sovits_weights`' override: the text embedding's rows give the symbol table (v2 without one)."""
    embedding = weight.get(TEXT_EMBEDDING)
    return "v2" if embedding is None else versions.sovits_symbols(embedding.shape[0])


def resolve(fast: SovitsVersion, weight: Mapping[str, np.ndarray]) -> SovitsVersion:
    """The version `change_sovits_weights` ends with: symbols from the weights; the Pro tag decides Pro.
    A refused version (or a file without a text embedding, which the reference takes for v3) stays as
    it is, for the message that refuses it."""
    if fast.lora or fast.model not in versions.SUPPORTED or TEXT_EMBEDDING not in weight:
        return SovitsVersion("v2", fast.model if fast.model not in versions.SUPPORTED else "v3", fast.lora)
    symbols = symbols_from_weights(weight)
    return SovitsVersion(symbols, versions.model_version(symbols, fast.model))
