"""Clips given by path are read with libsndfile only: librosa's audioread fallback (ffmpeg with any
demuxer) would follow an HLS playlist posing as a clip to the files it names."""
from __future__ import annotations

import subprocess
import warnings

import librosa
import numpy as np
import pytest
import soundfile as sf

from GPT_SoVITS.audio.io import load_librosa
from support.required import need_tool


@pytest.fixture
def speech(tmp_path):
    """A 4 s 32 kHz PCM16 clip with some content (a chirp plus noise)."""
    rate = 32000
    t = np.arange(4 * rate) / rate
    rng = np.random.default_rng(0)
    audio = 0.5 * np.sin(2 * np.pi * (200 + 300 * t) * t) + 0.01 * rng.standard_normal(t.size)
    path = tmp_path / "speech.wav"
    sf.write(path, audio.astype(np.float32), rate, subtype="PCM_16")
    return path


def test_same_samples_as_librosa_on_a_wav(speech):
    expected, _ = librosa.load(str(speech), sr=16000)
    got = load_librosa(speech, 16000)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_playlist_posing_as_a_clip_is_not_followed(speech, tmp_path):
    need_tool("ffmpeg")  # makes the secret file; without it the fallback it would feed is absent too
    secret = tmp_path / "secret.mp3"  # an extension HLS accepts for a segment
    subprocess.run([need_tool("ffmpeg"), "-v", "error", "-y", "-i", str(speech), str(secret)], check=True)
    playlist = tmp_path / "refer.wav"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:4.0,\nfile://{secret}\n#EXT-X-ENDLIST\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa's "trying audioread" warnings, before the change
        with pytest.raises(sf.LibsndfileError):
            load_librosa(playlist, 16000)
