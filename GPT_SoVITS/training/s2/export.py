"""A trained SoVITS saved as the reference's process_ckpt.savee writes it.

`{"weight": the generator's state dict without enc_q, in float16, "config": hps (pickled as the
reference's utils.HParams), "info": "<epoch>epoch_<steps>iteration"}`; for v2Pro / v2ProPlus the file
starts with the version's 2-byte tag (my_save2) instead of `PK`. The reference's web UI and this
project's loader read it back (the tag names the version; the weights, the symbol set).
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ... import versions
from ...weights.hparams import HParams
from ...weights.torch_zip import ZIP_MAGIC
from ...weights.torch_zip_writer import write_torch_checkpoint

POSTERIOR_PREFIX = "enc_q"


def export_sovits(path: Path, state: Mapping[str, np.ndarray], hps: Mapping[str, Any], version: str, *,
                  epoch: int, steps: int) -> Path:
    weight = {k: np.asarray(v).astype(np.float16) for k, v in state.items() if POSTERIOR_PREFIX not in k}
    config = HParams({**hps, "model": {**hps["model"], "version": version}})
    obj = OrderedDict(weight=weight, config=config, info=f"{epoch}epoch_{steps}iteration")  # as savee
    header = versions.VERSIONS[version].tag if versions.is_pro(version) else ZIP_MAGIC
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_torch_checkpoint(obj, path, header=header)
