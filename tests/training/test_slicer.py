"""The slicer: boundaries equal the reference's tools/slicer2.py on its golden signal, cuts fall in the
silences of a sox-made recording, and the clips get slice_audio.py's normalisation."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from support.required import missing, need_tool

REPO = Path(__file__).resolve().parents[2]


def golden_file(name: str) -> Path:
    root = Path(os.environ.get("GOLDEN_TRAINING_DIR") or REPO / "tests" / "golden" / "training")
    path = root / "prep" / name
    if not path.exists():
        missing(f"golden data {path}", "REF_DIR=/work/ref <torch venv>/bin/python tools/training_golden/make_prep_golden.py")
    return path


def settings_of(row: dict):
    from GPT_SoVITS.training.prepare.slicer import SliceSettings

    return SliceSettings(threshold_db=row["threshold"], min_length_ms=row["min_length"],
                         min_interval_ms=row["min_interval"], hop_size_ms=row["hop_size"],
                         max_sil_kept_ms=row["max_sil_kept"])


def test_boundaries_equal_the_reference_slicer():
    from GPT_SoVITS.training.prepare.slicer import Slicer

    meta = json.loads(golden_file("slicer.json").read_text())
    with np.load(golden_file("slicer.npz")) as golden:
        audio = golden["signal"].astype(np.float32) / 32768
        for i, row in enumerate(meta["settings"]):
            got = Slicer(meta["rate"], settings_of(row)).boundaries(audio)
            assert got == [tuple(pair) for pair in golden[f"boundaries_{i}"].tolist()], row


def test_web_ui_defaults_are_the_first_golden_row():
    from dataclasses import asdict

    from GPT_SoVITS.training.prepare.slicer import SliceSettings

    first = json.loads(golden_file("slicer.json").read_text())["settings"][0]
    assert asdict(settings_of(first)) == asdict(SliceSettings())
    assert (SliceSettings().max_amplitude, SliceSettings().alpha) == (0.9, 0.25)  # webui.py's sliders


# tones (seconds) between silences (seconds) of the sox-made recording
TONES = (5.0, 4.5, 6.0)
GAPS = (1.0, 0.8)


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    sox = need_tool("sox")
    folder = tmp_path_factory.mktemp("rec")
    parts = []
    for i, seconds in enumerate(TONES):
        tone = folder / f"tone{i}.wav"
        subprocess.run([sox, "-n", "-r", "32000", "-c", "1", "-b", "16", str(tone), "synth", str(seconds),
                        "sine", str(300 + 100 * i), "vol", "0.5"], check=True)
        parts.append(tone)
        if i < len(GAPS):
            gap = folder / f"gap{i}.wav"
            subprocess.run([sox, "-n", "-r", "32000", "-c", "1", "-b", "16", str(gap), "trim", "0", str(GAPS[i])],
                           check=True)
            parts.append(gap)
    out = folder / "recording.wav"
    subprocess.run([sox, *map(str, parts), str(out)], check=True)
    return out


def tone_spans() -> list[tuple[int, int]]:
    spans, at = [], 0.0
    for i, seconds in enumerate(TONES):
        spans.append((round(at * 32000), round((at + seconds) * 32000)))
        at += seconds + (GAPS[i] if i < len(GAPS) else 0)
    return spans


def test_cuts_fall_in_the_silences(recording):
    from GPT_SoVITS.training.prepare.audio import load_clip
    from GPT_SoVITS.training.prepare.slicer import slice_recording

    pieces = slice_recording(load_clip(recording, recording.name))
    spans = tone_spans()
    assert len(pieces) == len(spans)
    for (clip, start, end), (tone_start, tone_end), i in zip(pieces, spans, range(len(spans))):
        assert start <= tone_start and end >= tone_end  # each tone whole in its clip
        previous_end = spans[i - 1][1] if i else 0
        next_start = spans[i + 1][0] if i + 1 < len(spans) else None
        assert start >= previous_end  # ...and nothing of its neighbours
        if next_start is not None:
            assert end <= next_start
        assert clip.dtype == np.int16


def test_clips_are_normalised_as_slice_audio(recording):
    from GPT_SoVITS.training.prepare.audio import load_clip
    from GPT_SoVITS.training.prepare.slicer import Slicer, SliceSettings, slice_recording

    audio = load_clip(recording, recording.name)
    settings = SliceSettings()
    (start, end), *_ = Slicer(32000, settings).boundaries(audio)
    chunk = audio[start:end]
    # slice_audio.py: (chunk / tmp_max * (_max * alpha)) + (1 - alpha) * chunk, written as x 32767 int16
    peak = np.abs(chunk).max()
    expected = ((chunk / peak * (0.9 * 0.25)) + (1 - 0.25) * chunk) * 32767
    np.testing.assert_array_equal(slice_recording(audio, settings)[0][0], expected.astype(np.int16))


def test_slice_command_writes_clips_and_a_list_to_fill_in(recording, tmp_path):
    import soundfile as sf

    from GPT_SoVITS.finetune.slice import main

    assert main([str(recording), "--out", str(tmp_path), "--speaker", "me", "--language", "ZH"]) == 0
    lines = (tmp_path / "slices.list").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(TONES)
    for line, (tone_start, _) in zip(lines, tone_spans()):
        path, speaker, language, text = line.split("|")
        name = Path(path).name
        assert name.startswith("recording.wav_") and (speaker, language, text) == ("me", "ZH", "")
        start = int(name.split("_")[1])
        assert start <= tone_start
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (32000, 1, "PCM_16")


def test_settings_the_reference_refuses():
    from GPT_SoVITS.training.prepare.slicer import SliceSettings

    with pytest.raises(ValueError):
        SliceSettings(min_length_ms=200, min_interval_ms=300)
    with pytest.raises(ValueError):
        SliceSettings(max_sil_kept_ms=5, hop_size_ms=10)
