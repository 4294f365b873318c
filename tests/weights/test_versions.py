"""The version registry (`GPT_SoVITS.versions`) is what detection, loading and the missing-weights message read."""
from __future__ import annotations

from pathlib import Path

import pytest

from golden_data import model_file, model_meta, model_subdirs
from GPT_SoVITS.pipeline import ModelPaths, WeightsMissingError
from GPT_SoVITS.versions import PRO, VERSIONS, WEIGHT_FILES
from GPT_SoVITS.weights import load_sovits_checkpoint

SOVITS = model_subdirs("sovits")


def _sovits_path(name: str):
    return model_file(f"sovits/{name}/{model_meta(f'sovits/{name}')['checkpoint']}")


@pytest.mark.parametrize("name", SOVITS)
def test_a_port_checkpoint_without_a_stored_version_reads_as_its_loaded_model(tmp_path, name):
    """The original port's files carry no version: the reader must name the model as the loader builds it
    (a v1 file was read as model v2 with v1 symbols, and only the loader said v1)."""
    from GPT_SoVITS.models.sovits import load_sovits
    from GPT_SoVITS.weights.mindspore_ckpt import write_mindspore_checkpoint

    source = load_sovits_checkpoint(_sovits_path(name))
    config = source.hps.to_dict()
    del config["model"]["version"]
    target = write_mindspore_checkpoint(tmp_path / "port.ckpt", "sovits", source.state, config, source.info)
    ported = load_sovits_checkpoint(target)
    assert ported.version == source.version
    assert ported.hps.model.version == source.version.model
    loaded = load_sovits(target)
    assert (loaded.version, loaded.symbols_version) == (ported.version.model, ported.version.symbols)


def _golden_paths(sovits: str, speaker_verifier: str | None) -> ModelPaths:
    return ModelPaths(gpt=str(model_file("gpt/v2/model.ckpt")), sovits=str(_sovits_path(sovits)),
                      hubert=str(model_file("hubert/chinese-hubert-base/config.json").parent),
                      bert=str(model_file("bert/chinese-roberta-wwm-ext-large/config.json").parent),
                      speaker_verifier=speaker_verifier)


@pytest.mark.parametrize("name", model_subdirs("sovits", only=set(PRO)))
def test_a_pro_model_without_its_verifier_names_the_file_where_it_was_looked_for(tmp_path, name):
    from GPT_SoVITS.pipeline.models import load_models

    where = tmp_path / "sv" / "absent.ckpt"
    with pytest.raises(WeightsMissingError) as caught:
        load_models(_golden_paths(name, str(where)))
    assert caught.value.missing == (("speaker_verifier", str(where)),)
    message = str(caught.value.worded_for(lambda key: f"--flag-for-{key}", show=lambda path: "shown:" + Path(path).name))
    assert WEIGHT_FILES["speaker_verifier"].what in message
    assert "shown:absent.ckpt" in message and "--flag-for-speaker_verifier" in message and str(tmp_path) not in message


@pytest.mark.parametrize("name", SOVITS)
def test_each_golden_model_reads_as_its_registry_row_says(name):
    meta = model_meta(f"sovits/{name}")
    row = VERSIONS[meta["hps"]["model"]["version"]]
    checkpoint = load_sovits_checkpoint(_sovits_path(name))
    assert checkpoint.version.model == row.name and checkpoint.version.symbols == row.symbols
    assert checkpoint.version.is_pro == row.pro and row.supported
    assert int(meta["hps"]["data"]["sampling_rate"]) == row.sample_rate
