"""Chinese HuBERT against the reference (`hubert/` golden): the librosa 16 kHz input and `last_hidden_state`.

Called as `get_tts_wav` calls it: the 16 kHz clip (librosa, soxr_hq) plus the zero padding the folder's
`meta.json` records, straight into the model without the feature extractor's normalisation.
"""
from __future__ import annotations

import numpy as np
import pytest
from golden_data import model_file, model_meta

from GPT_SoVITS.audio.io import load_librosa
from GPT_SoVITS.models.hubert import HubertModel, load_hubert, prepare_state

# The golden README's suggested checks.
ATOL_WAV16K = 1e-5
ATOL_HIDDEN = 1e-4
WEIGHTS = "hubert/chinese-hubert-base/pytorch_model.bin"

_model: list[HubertModel] = []


def hubert() -> HubertModel:
    if not _model:
        _model.append(load_hubert(model_file(WEIGHTS).parent))
    return _model[0]


def cases() -> list[str]:
    try:
        return list(model_meta("hubert")["cases"])
    except BaseException:  # missing golden data: reported by the test
        return ["wav16k"]


@pytest.mark.parametrize("case", cases())
def test_resampled_input(case):
    meta = model_meta("hubert")
    golden = np.load(model_file("hubert/golden.npz"))
    wav = load_librosa(model_file(f"hubert/{meta['cases'][case]['file']}"))
    np.testing.assert_allclose(wav, golden[f"{case}.librosa_wav16k"], atol=ATOL_WAV16K, rtol=0)


@pytest.mark.parametrize("case", cases())
def test_last_hidden_state(case):
    meta = model_meta("hubert")
    golden = np.load(model_file("hubert/golden.npz"))
    wav = golden[f"{case}.librosa_wav16k"]
    padded = np.concatenate([wav, np.zeros(meta["zero_pad_samples"], dtype=np.float32)])
    assert len(padded) == meta["cases"][case]["n_input"]
    hidden = hubert().last_hidden_state(padded).asnumpy()[0]
    expected = golden[f"{case}.last_hidden_state"]
    assert hidden.shape == expected.shape == (meta["cases"][case]["n_frames"], meta["config"]["hidden_size"])
    np.testing.assert_allclose(hidden, expected, atol=ATOL_HIDDEN, rtol=0)


def test_parametrized_weight_norm_names_load_the_same():
    """Folders saved by newer transformers name the positional conv's g / v `parametrizations.weight.original0/1`."""
    from GPT_SoVITS.weights import load_hf_folder

    state = load_hf_folder(model_file(WEIGHTS).parent).state
    renamed = {k.replace(".weight_g", ".parametrizations.weight.original0")
                .replace(".weight_v", ".parametrizations.weight.original1"): v for k, v in state.items()}
    old, new = prepare_state(state), prepare_state(renamed)
    assert old.keys() == new.keys()
    key = "encoder.pos_conv_embed.conv.weight"
    np.testing.assert_array_equal(old[key], new[key])
    # dim=2: every kernel position k is scaled by g[k] / ||v[:, :, k]||.
    g = state["encoder.pos_conv_embed.conv.weight_g"].astype(np.float64)
    v = state["encoder.pos_conv_embed.conv.weight_v"].astype(np.float64)
    expected = g * v / np.sqrt((v ** 2).sum(axis=(0, 1), keepdims=True))
    np.testing.assert_allclose(old[key], expected, rtol=1e-6, atol=1e-7)
