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


def configure_runtime(options: FinetuneOptions) -> None:
    """The device (and its CPU settings: blocking launches, the oneDNN ISA cap) before a trainer is built.
    Preparation configures it only when a clip needs its models, so a rerun over a prepared folder (a
    resume) would otherwise train with MindSpore's defaults: ~4x slower per SoVITS step here, the oneDNN
    reference convolutions on an AVX-512 host, and the default device whatever --device-target says."""
    from GPT_SoVITS import runtime

    runtime.configure(options.device_target)


def sovits_trainer(options: FinetuneOptions, data: PreparedDataset) -> Trainer:
    """`S2Trainer` from the pretrained generator (and discriminator), with the web UI's SoVITS knobs."""
    from GPT_SoVITS.training.s2 import S2Trainer

    check_weights(options, ["sovits"])
    configure_runtime(options)
    return S2Trainer.from_pretrained(
        options.pretrained_s2G, options.pretrained_s2D, options.version, None, batch_size=options.batch_size,
        epochs=options.sovits_epochs, text_low_lr_rate=options.text_low_lr_rate, exp_name=options.name,
        seed=options.seed, learning_rate_scale=options.learning_rate_scale)


def gpt_trainer(options: FinetuneOptions, data: PreparedDataset) -> Trainer:
    """`S1Trainer` from the pretrained GPT checkpoint, with the web UI's GPT knobs (`if_dpo` included); the
    learning-rate scale multiplies the s1 configuration's learning rates (peak, initial, final)."""
    from GPT_SoVITS.training.s1 import S1Trainer
    from GPT_SoVITS.training.s1.config import training_config

    check_weights(options, ["gpt"])
    configure_runtime(options)
    config = training_config()
    for key in ("lr", "lr_init", "lr_end"):
        config["optimizer"][key] *= options.learning_rate_scale
    return S1Trainer.from_pretrained(options.pretrained_s1, config, batch_size=options.gpt_batch_size,
                                     epochs=options.gpt_epochs, exp_name=options.name, if_dpo=options.if_dpo,
                                     seed=options.seed)


FACTORIES: dict[str, TrainerFactory] = {"s2": sovits_trainer, "s1": gpt_trainer}
