"""The reference clip's linear spectrogram (`get_spepc`) and the clip loading around it."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from golden_data import model_file, model_meta, model_subdirs

from GPT_SoVITS.audio.io import load_mono, load_pcm
from GPT_SoVITS.audio.spectrogram import hann_window, linear_spectrogram, normalize_peak, reference_spectrogram

ATOL_SPEC, RTOL_SPEC = 1e-4, 1e-6  # the golden README's suggested check


@pytest.mark.parametrize("version", model_subdirs("sovits"))
def test_reference_spectrogram_matches_get_spepc(version):
    meta = model_meta(f"sovits/{version}")
    expected = np.load(model_file(f"sovits/{version}/golden.npz"))["spec"]
    spec, audio = reference_spectrogram(model_file(f"sovits/{version}/{meta['ref_wav']['file']}"), meta["hps"])
    assert spec.dtype == np.float32 and spec.shape == expected.shape
    assert len(audio) == round(meta["ref_wav"]["seconds"] * meta["ref_wav"]["sampling_rate"])
    np.testing.assert_allclose(spec, expected, atol=ATOL_SPEC, rtol=RTOL_SPEC)


def test_hann_window_is_periodic():
    # torch.hann_window(N) is the first N points of a symmetric window of N + 1.
    n = 16
    symmetric = np.hanning(n + 1)
    np.testing.assert_allclose(hann_window(n), symmetric[:n], atol=1e-12)


def test_frames_and_silence_floor():
    n_fft, hop = 64, 16
    audio = np.zeros(160, dtype=np.float32)
    spec = linear_spectrogram(audio, n_fft, hop, n_fft)
    # reflect-pad (n_fft - hop) / 2 each side, no centring: 1 + (N + n_fft - hop - n_fft) // hop frames.
    assert spec.shape == (n_fft // 2 + 1, 1 + (160 - hop) // hop)
    np.testing.assert_allclose(spec, np.sqrt(1e-8), rtol=1e-6)  # the magnitude's epsilon


def test_sine_peaks_at_its_bin():
    n_fft, hop, rate = 256, 64, 8000
    t = np.arange(4096) / rate
    bin_index = 20
    spec = linear_spectrogram(np.sin(2 * np.pi * bin_index * rate / n_fft * t), n_fft, hop, n_fft)
    # The first and last frames reach into the reflect padding, which breaks the sine's phase.
    assert (spec[:, 1:-1].argmax(0) == bin_index).all()


@pytest.mark.parametrize("peak,divisor", [(0.5, 1.0), (1.5, 1.5), (3.0, 2.0)])
def test_peak_rule(peak, divisor):
    audio = np.array([0.1, -peak, 0.2], dtype=np.float32)
    np.testing.assert_allclose(normalize_peak(audio), audio / divisor)


def test_pcm16_is_read_as_torchaudio_does(tmp_path):
    samples = np.array([[0, 1, -1, 32767, -32768], [2, 2, 2, 2, 2]], dtype=np.int16).T
    path = tmp_path / "stereo.wav"
    sf.write(path, samples, 16000, subtype="PCM_16")
    audio, rate = load_pcm(path)
    assert rate == 16000 and audio.shape == (2, 5) and audio.dtype == np.float32
    np.testing.assert_array_equal(audio, samples.T.astype(np.float32) / 32768)
    # get_spepc averages two channels, then resamples to the model's rate with torchaudio's filter.
    mono = load_mono(path, 32000)
    assert mono.shape == (10,)
    np.testing.assert_allclose(load_mono(path, 16000), audio.mean(0))
