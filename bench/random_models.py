"""Full-size models with random weights (no download), built from `bench/configs.py`.

Weights are drawn N(0, 0.02) like a freshly initialised transformer; norm scales start at 1 so the
activations stay finite through 24 layers. The GPT's EOS row is zeroed so that random logits never
pick EOS: decoding then runs as long as the benchmark asks (see `FixedLengthGPT`).
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import mindspore as ms

from . import configs

WEIGHT_STD = 0.02
TOKENS_PER_PHONE = 2.5  # ~ what real models produce for Chinese (a 10 s sentence: ~100 phones, 250 tokens)


def randomize(cell: ms.nn.Cell, seed: int = 0) -> ms.nn.Cell:
    rng = np.random.default_rng(seed)
    for name, param in cell.parameters_and_names():
        shape = tuple(param.shape)
        leaf = name.rsplit(".", 1)[-1]
        if "norm" in name.lower() and leaf in ("weight", "gamma") or leaf in ("alpha", "weight_g"):
            value = np.ones(shape, np.float32)
        else:
            value = rng.normal(0.0, WEIGHT_STD, shape).astype(np.float32)
        param.set_data(ms.Tensor(value))
    cell.set_train(False)
    return cell


def gpt():
    from GPT_SoVITS.models.gpt import GPT, GPTConfig, Text2SemanticDecoder

    cfg = GPTConfig.from_checkpoint_config(configs.GPT)
    model = randomize(Text2SemanticDecoder(cfg))
    weight = model.ar_predict_layer.weight.asnumpy()
    weight[cfg.eos] = 0.0
    model.ar_predict_layer.weight.set_data(ms.Tensor(weight))
    return FixedLengthGPT(config=cfg, max_sec=configs.GPT["data"]["max_sec"], model=model, version="v2")


def sovits():
    from GPT_SoVITS.models.sovits import SoVITS
    from GPT_SoVITS.models.sovits.config import SoVITSConfig
    from GPT_SoVITS.models.sovits.synthesizer import SynthesizerTrn

    hps = copy.deepcopy(configs.SOVITS)
    model = randomize(SynthesizerTrn(SoVITSConfig.from_hps(hps, "v2", configs.SOVITS_SYMBOLS)), seed=1)
    data = hps["data"]
    return SoVITS(hps, "v2", "v2", data["sampling_rate"], data["hop_length"], model)


def hubert():
    from GPT_SoVITS.models.hubert import HubertConfig, HubertModel

    return randomize(HubertModel(HubertConfig.from_dict(configs.HUBERT)), seed=2)


def bert(tokenizer_file: Path | None, all_layers: bool = False):
    """A ChineseBert with random weights; the tokenizer is the real one when its file is given. Like a
    loaded one it keeps only the layers its feature needs, unless `all_layers` (to write a weight file)."""
    from GPT_SoVITS.models.bert import HIDDEN_STATE_FROM_END, BertConfig, BertModel, ChineseBert

    wrapper = ChineseBert.__new__(ChineseBert)
    wrapper.config = BertConfig.from_dict(configs.BERT)
    wrapper.model = randomize(BertModel(wrapper.config), seed=3)
    wrapper.feature_layers = wrapper.model.layers_for(-HIDDEN_STATE_FROM_END)
    if not all_layers:
        wrapper.model.keep_layers(wrapper.feature_layers)
    wrapper.tokenizer = None
    if tokenizer_file is not None:
        from tokenizers import Tokenizer

        wrapper.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        wrapper.tokenizer.no_truncation()
        wrapper.tokenizer.no_padding()
    return wrapper


def _gpt_base():
    from GPT_SoVITS.models.gpt import GPT

    return GPT


class FixedLengthGPT(_gpt_base()):
    """Random weights never emit EOS, so stop each segment at a realistic length for its phonemes."""

    prompt_phones: int = 0

    def early_stop_for(self, phoneme_ids, early_stop_num):
        return int(TOKENS_PER_PHONE * max(1, len(phoneme_ids) - self.prompt_phones)) if early_stop_num is None \
            else early_stop_num
