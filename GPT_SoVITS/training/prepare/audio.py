"""A clip's audio as the reference's preparation reads it, the checks it must pass, and the loudness
scaling of prepare_datasets/2-get-hubert-wav32k.py.

Reading: the reference decodes every clip with ffmpeg to 32 kHz mono float32 (tools/my_utils.load_audio);
so does `load_clip`, with the same arguments, after libsndfile has opened the file (as
`GPT_SoVITS.audio.io`: a playlist or concat script posing as a clip is refused before ffmpeg sees it).

Checks (`check_clip`), each a `ClipError` naming the clip. The bounds are the reference's where it has one:
- duration: the SoVITS trainer keeps clips with 0.6 s < duration < 54 s (module/data_utils.py; 54 s is
  also the GPT trainer's max_sec) and silently drops the others; here they are errors;
- silent: the loudest sample is below -40 dBFS (0.01): nothing to learn, and the scaling divides by it;
- clipped: a sample beyond full scale (|x| > 1, a float file: the reference's int16 conversion would wrap
  around), or at least 0.1 % of the samples at full scale (|x| >= 0.999): a recording distorted at the
  source. (2-get-hubert-wav32k.py itself only drops clips whose peak passes 2.2, `loudness_scale`.)
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ClipError

CLIP_RATE = 32000  # the reference decodes clips at 32 kHz (the SoVITS rate)
SSL_RATE = 16000  # HuBERT's rate
MIN_SECONDS = 0.6  # exclusive bounds, module/data_utils.py: `if 54 > duration > 0.6`
MAX_SECONDS = 54.0
SILENT_PEAK = 0.01  # -40 dBFS
FULL_SCALE = 0.999
MAX_CLIPPED_SHARE = 0.001
# 2-get-hubert-wav32k.py
MAXX = 0.95
ALPHA = 0.5
REFERENCE_SKIP_PEAK = 2.2
INT16_SCALE = 32768  # tmp_audio32's scale (written as int16)
SSL_SCALE = 1145.14  # tmp_audio32b's scale: the audio HuBERT reads


def load_clip(path: str | Path, name: str) -> np.ndarray:
    """float32 [samples] at 32 kHz, mono: `load_audio(path, 32000)` of the reference."""
    import soundfile as sf

    try:
        sf.info(str(path))
    except Exception as exc:  # soundfile raises RuntimeError / LibsndfileError / OSError
        raise ClipError(name, f"音频无法读取：{exc}", f"the audio does not open: {exc}") from exc
    command = ["ffmpeg", "-nostdin", "-threads", "0", "-i", str(path), "-f", "f32le", "-acodec", "pcm_f32le",
               "-ac", "1", "-ar", str(CLIP_RATE), "-"]
    done = subprocess.run(command, capture_output=True)
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise ClipError(name, f"音频解码失败：{tail}", f"ffmpeg could not decode it: {tail}")
    return np.frombuffer(done.stdout, np.float32).flatten()


def check_clip(audio32k: np.ndarray, name: str) -> None:
    """Raise `ClipError` for a clip too short, too long, silent or clipped (the bounds above)."""
    seconds = audio32k.shape[0] / CLIP_RATE
    if not seconds > MIN_SECONDS:
        raise ClipError(name, f"太短（{seconds:.2f} 秒，需长于 {MIN_SECONDS} 秒）",
                        f"too short ({seconds:.2f} s; it must last more than {MIN_SECONDS} s)")
    if not seconds < MAX_SECONDS:
        raise ClipError(name, f"太长（{seconds:.2f} 秒，需短于 {MAX_SECONDS:g} 秒，请先切分）",
                        f"too long ({seconds:.2f} s; it must last less than {MAX_SECONDS:g} s: slice it first)")
    peak = float(np.abs(audio32k).max())
    if peak < SILENT_PEAK:
        raise ClipError(name, f"几乎无声（峰值 {peak:.4f}，低于 -40 dBFS）",
                        f"silent or nearly so (peak {peak:.4f}, below -40 dBFS)")
    if peak > 1:
        raise ClipError(name, f"削波：采样超出满幅（峰值 {peak:.3f}），请先归一化",
                        f"clipped: samples beyond full scale (peak {peak:.3f}); normalise it first")
    share = float(np.mean(np.abs(audio32k) >= FULL_SCALE))
    if share >= MAX_CLIPPED_SHARE:
        raise ClipError(name, f"削波失真：{share:.2%} 的采样处于满幅，请重新录制或降低增益",
                        f"clipped: {share:.2%} of the samples at full scale; record it again at a lower gain")


@dataclass(frozen=True)
class ScaledClip:
    """What 2-get-hubert-wav32k.py makes of a clip."""

    audio32k: np.ndarray  # float32: the int16 it writes to 5-wav32k, / 32768 (what the s2 loader reads)
    ssl_input16k: np.ndarray  # float32: the 16 kHz audio HuBERT reads (scaled by 1145.14)


def loudness_scale(audio32k: np.ndarray, name: str) -> ScaledClip:
    """The reference's mix of the peak-normalised clip (peak 0.95) and the clip, half and half, at the
    int16 scale (written to 5-wav32k) and at 1145.14 (resampled to 16 kHz for HuBERT); float32 throughout,
    as the reference's numpy computes it. A clip whose peak passes 2.2 is skipped by the reference: here a
    `ClipError`."""
    import librosa

    tmp_audio = np.asarray(audio32k, dtype=np.float32)
    tmp_max = np.abs(tmp_audio).max()
    if tmp_max > REFERENCE_SKIP_PEAK:
        raise ClipError(name, f"峰值 {tmp_max:.2f} 超过 {REFERENCE_SKIP_PEAK}（参考实现会跳过）",
                        f"peak {tmp_max:.2f} above {REFERENCE_SKIP_PEAK} (the reference skips it)")
    tmp_audio32 = (tmp_audio / tmp_max * (MAXX * ALPHA * INT16_SCALE)) + ((1 - ALPHA) * INT16_SCALE) * tmp_audio
    tmp_audio32b = (tmp_audio / tmp_max * (MAXX * ALPHA * SSL_SCALE)) + ((1 - ALPHA) * SSL_SCALE) * tmp_audio
    wav16k = librosa.resample(tmp_audio32b, orig_sr=CLIP_RATE, target_sr=SSL_RATE)
    stored = tmp_audio32.astype("int16").astype(np.float32) / np.float32(INT16_SCALE)
    return ScaledClip(audio32k=stored, ssl_input16k=np.asarray(wav16k, dtype=np.float32))
