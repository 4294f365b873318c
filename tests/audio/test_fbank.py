"""The speaker-verification front end: Kaldi fbank (against the sv goldens) and the torchaudio-style resampler.

Every folder of the golden set holding a speaker-verification model (`sv_tiny/`, and `sv/` in the evaluation set)
is checked; lengths and arguments come from its `meta.json`, inputs and expected values from its `golden.npz`.
The resampler's parity with the goldens is checked from the wav files in `tests/models/test_speaker.py`.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from golden_data import model_file, model_meta, model_subdirs

from GPT_SoVITS.audio.fbank import fbank, num_frames
from GPT_SoVITS.audio.sv_resample import resample

# The golden README's suggested check (about 10-20x the reference's own float32 noise).
ATOL_FBANK = 3e-3
SV_FOLDERS = model_subdirs(".", only={"sv_tiny", "sv"})

@pytest.mark.parametrize("folder", SV_FOLDERS)
def test_fbank_matches_reference(folder: str) -> None:
    meta = model_meta(folder)
    args = meta["fbank_args"]
    assert args["dither"] == 0  # the only setting implemented: the reference's v2Pro path
    golden = np.load(model_file(f"{folder}/golden.npz"))
    for case in meta["cases"]:
        feat = fbank(golden[f"{case}.wav16k"], args["num_mel_bins"], args["sample_frequency"])
        assert list(feat.shape) == meta["arrays"][f"{case}.fbank"][0]
        np.testing.assert_allclose(feat, golden[f"{case}.fbank"], rtol=0, atol=ATOL_FBANK, err_msg=case)


def test_resample_keeps_equal_rates_and_sizes_like_torchaudio() -> None:
    wav = np.random.default_rng(0).standard_normal(1001).astype(np.float32)
    np.testing.assert_array_equal(resample(wav, 16000, 16000), wav)
    assert resample(wav, 32000, 16000).shape == (math.ceil(1001 / 2),)
    assert resample(wav, 16000, 22050).shape == (math.ceil(1001 * 441 / 320),)
    assert resample(np.stack([wav, wav]), 32000, 16000).shape == (2, 501)


def test_resample_passes_a_low_tone_through() -> None:
    # A 440 Hz tone is far below both Nyquist rates: away from the edges it must come out unchanged.
    t_in = np.arange(32000) / 32000
    t_out = np.arange(16000) / 16000
    down = resample(np.sin(2 * np.pi * 440 * t_in).astype(np.float32), 32000, 16000)
    np.testing.assert_allclose(down[200:-200], np.sin(2 * np.pi * 440 * t_out)[200:-200], atol=2e-3)
    up = resample(np.sin(2 * np.pi * 440 * t_out).astype(np.float32), 16000, 24000)
    np.testing.assert_allclose(up[300:-300], np.sin(2 * np.pi * 440 * np.arange(24000) / 24000)[300:-300],
                               atol=2e-3)


def test_fbank_frames_and_floor() -> None:
    assert num_frames(399) == 0 and num_frames(400) == 1 and num_frames(560) == 2
    silence = fbank(np.zeros(16000, np.float32))
    assert silence.shape == (num_frames(16000), 80)
    np.testing.assert_allclose(silence, np.log(np.finfo(np.float32).eps))
    with pytest.raises(ValueError):
        fbank(np.zeros(100, np.float32))


def test_fbank_puts_a_tone_in_the_right_band() -> None:
    # A 1 kHz tone: the loudest filter is the one whose centre is nearest 1 kHz on Kaldi's mel scale.
    wav = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)
    loudest = fbank(wav).mean(axis=0).argmax()
    mel = lambda f: 1127 * np.log(1 + f / 700)  # noqa: E731
    centres = mel(20) + (mel(8000) - mel(20)) / 81 * np.arange(1, 81)
    assert loudest == np.abs(centres - mel(1000)).argmin()
