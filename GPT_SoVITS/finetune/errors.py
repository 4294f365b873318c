"""The command's own error, and the check that the weight files it is about to load exist."""
from __future__ import annotations

from typing import Sequence

from .options import FinetuneOptions

# How this command's user sets each weight path (`versions.WEIGHT_FILES` keys), for the missing-file message.
WEIGHT_FLAGS = {"gpt": "--pretrained-s1", "sovits": "--pretrained-s2G",
                "hubert": "--cnhubert-base-path or the variable cnhubert_base_path",
                "bert": "--bert-path or the variable bert_path",
                "speaker_verifier": "--sv-path or the variable sv_path"}


class FinetuneError(Exception):
    """The command cannot go on; the message says why (one line per clip for bad clips)."""


def check_weights(options: FinetuneOptions, keys: Sequence[str]) -> None:
    """A `FinetuneError` naming every one of the weight files `keys` that does not exist, and its flag."""
    from GPT_SoVITS.pipeline.models import missing_weights_error
    from GPT_SoVITS.pipeline.options import ModelPaths

    paths = ModelPaths(gpt=str(options.pretrained_s1), sovits=str(options.pretrained_s2G),
                       hubert=str(options.cnhubert_base_path), bert=str(options.bert_path),
                       speaker_verifier=str(options.sv_path) if options.sv_path else None)
    error = missing_weights_error(paths, keys)
    if error is not None:
        raise FinetuneError(str(error.worded_for(WEIGHT_FLAGS.__getitem__)))
