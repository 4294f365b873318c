"""Which trainer trains each model: `FACTORIES["s2"]` and `FACTORIES["s1"]` build one from the options
and the prepared dataset. The real ones import the training packages when called, so this command
imports (and its tests run) without them; tests put stand-ins satisfying `Trainer` in their place."""
from __future__ import annotations

from typing import Callable

from GPT_SoVITS.training.prepared import PreparedDataset
from GPT_SoVITS.training.trainer import Trainer

from .errors import check_weights
from .options import FinetuneOptions

TrainerFactory = Callable[[FinetuneOptions, PreparedDataset], Trainer]


def sovits_trainer(options: FinetuneOptions, data: PreparedDataset) -> Trainer:
    """`S2Trainer` from the pretrained generator (and discriminator), with the web UI's SoVITS knobs."""
    from GPT_SoVITS.training.s2 import S2Trainer

    check_weights(options, ["sovits"])
    return S2Trainer.from_pretrained(
        options.pretrained_s2G, options.pretrained_s2D, options.version, None,
        text_low_lr_rate=options.text_low_lr_rate, learning_rate_scale=options.learning_rate_scale,
        seed=options.seed)


def gpt_trainer(options: FinetuneOptions, data: PreparedDataset) -> Trainer:
    """`S1Trainer` from the pretrained GPT checkpoint, with the web UI's GPT knobs."""
    from GPT_SoVITS.training.s1 import S1Trainer

    check_weights(options, ["gpt"])
    return S1Trainer.from_pretrained(options.pretrained_s1, None, learning_rate_scale=options.learning_rate_scale,
                                     seed=options.seed, if_dpo=options.if_dpo)


FACTORIES: dict[str, TrainerFactory] = {"s2": sovits_trainer, "s1": gpt_trainer}
