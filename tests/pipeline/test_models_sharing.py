"""A second GPT/SoVITS pair loaded beside a first (a voice with its own weights) reuses the first's HuBERT
and BERT objects and takes turns with it on one models' lock; its own GPT and SoVITS are its own. The
golden tiny models; the second pair is a copy of the first's files (another path, so really loaded again)."""
from __future__ import annotations

import shutil

import pytest

from golden_data import e2e_file, model_file

pytestmark = pytest.mark.slow


def test_a_second_pair_shares_hubert_bert_and_the_models_lock(tmp_path):
    from GPT_SoVITS.pipeline import ModelPaths
    from GPT_SoVITS.pipeline.synthesizer import Synthesizer

    base = ModelPaths(gpt=str(model_file("gpt/v2/model.ckpt")), sovits=str(model_file("sovits/v2/model.pth")),
                      hubert=str(e2e_file("../hubert/chinese-hubert-base", inside="pytorch_model.bin")),
                      bert=str(e2e_file("../bert/chinese-roberta-wwm-ext-large", inside="pytorch_model.bin")))
    gpt, sovits = tmp_path / "tuned.ckpt", tmp_path / "tuned.pth"
    shutil.copyfile(base.gpt, gpt)
    shutil.copyfile(base.sovits, sovits)
    first = Synthesizer.load(base)
    second = Synthesizer.load(ModelPaths(gpt=str(gpt), sovits=str(sovits), hubert=base.hubert, bert=base.bert),
                              sharing=first)
    try:
        assert second.models.hubert is first.models.hubert and second.models.bert is first.models.bert
        assert second.models.gpt is not first.models.gpt and second.models.sovits is not first.models.sovits
        assert second._models_lock is first._models_lock  # the shared cells run one call at a time
        assert second.models.paths.gpt == str(gpt) and second.versions == first.versions
        alone = Synthesizer.load(base)  # without `sharing`: a set of its own
        assert alone.models.hubert is not first.models.hubert and alone._models_lock is not first._models_lock
    finally:
        first.close()
        second.close()
