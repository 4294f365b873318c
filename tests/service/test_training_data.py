"""A voice's training data through the API: clips with transcripts, a long recording cut at silences, a zip
with a .list; the preparation's checks (duration, silence, language); listing, editing, deleting; and the
hostile archives (path traversal, a zip bomb, too many members). Clips are made here with espeak-ng/sox."""
from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import pytest
import soundfile as sf
from service_helpers import assert_envelope, create_model

from support.required import need_tool

ZH = "今天天气真不错，我们一起去公园散步吧。"
EN = "The weather is lovely today, let us take a walk in the park."


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> dict[str, Path]:
    for tool in ("espeak-ng", "sox"):
        need_tool(tool)
    folder = tmp_path_factory.mktemp("training-clips")
    made = {}
    for name, voice, text in (("zh", "zh", ZH), ("zh2", "zh", "欢迎使用语音合成服务。"), ("en", "en", EN)):
        made[name] = folder / f"{name}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(made[name]), text], check=True)
    made["silent"] = folder / "silent.wav"
    subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", str(made["silent"]), "trim", "0", "2"], check=True)
    made["recording"] = folder / "recording.wav"  # three sentences, a second of silence between them
    gap = folder / "gap.wav"
    subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", str(gap), "trim", "0", "1.0"], check=True)
    subprocess.run(["sox", str(made["zh"]), str(gap), str(made["zh2"]), str(gap), str(made["zh"]),
                    str(made["recording"])], check=True)
    return made


@pytest.fixture
def voice(client, clips, png) -> str:
    assert create_model(client, clips["5s"], png, "v1").json()["code"] == 0
    return "v1"


def upload(client, voice: str, files: list, data: dict | None = None):
    return client.post(f"/voice-models/{voice}/training-data", files=files, data=data or {})


def clip_files(*paths: Path) -> list:
    return [("clips", (path.name, path.read_bytes(), "audio/wav")) for path in paths]


def listed(client, voice: str) -> dict:
    return client.get(f"/voice-models/{voice}/training-data").json()["data"]


def test_clips_with_transcripts_are_stored_listed_edited_and_deleted(client, voice, speech):
    body = assert_envelope(upload(client, voice, clip_files(speech["zh"], speech["zh2"]),
                                  {"transcripts": [ZH, "欢迎使用语音合成服务。"], "language": "中文"}), 0, 200)
    added = body["data"]["added"]
    assert [clip["text"] for clip in added] == [ZH, "欢迎使用语音合成服务。"]
    assert {clip["language"] for clip in added} == {"zh"} and all(clip["seconds"] > 0.6 for clip in added)
    data = listed(client, voice)
    assert data["count"] == 2 and data["untranscribed"] == 0
    audio = client.get(added[0]["audio_url"])
    samples, rate = sf.read(io.BytesIO(audio.content))
    assert audio.status_code == 200 and rate == 32000 and samples.ndim == 1
    edited = client.patch(f"/voice-models/{voice}/training-data/{added[0]['clip_id']}", json={"text": "今天天气很好。"})
    assert edited.json()["data"]["text"] == "今天天气很好。"
    assert client.delete(f"/voice-models/{voice}/training-data/{added[1]['clip_id']}").json()["code"] == 0
    assert [clip["text"] for clip in listed(client, voice)["clips"]] == ["今天天气很好。"]
    assert_envelope(client.get(added[1]["audio_url"]), 2, 404)
    assert_envelope(client.delete(f"/voice-models/{voice}/training-data/{added[1]['clip_id']}"), 2, 404)


@pytest.mark.parametrize("case", ["count", "label", "language", "silent", "pipe", "two kinds", "no voice"])
def test_a_refused_upload_stores_nothing(client, voice, speech, case):
    files, data, target, code, status = clip_files(speech["zh"]), {"transcripts": [ZH], "language": "zh"}, voice, 3, 400
    if case == "count":
        data["transcripts"] = [ZH, ZH]
    elif case == "label":
        data["language"] = "ko"
    elif case == "language":  # English speech and text labelled Chinese: the preparation's language check
        files, data["transcripts"] = clip_files(speech["en"]), [EN]
    elif case == "silent":
        files = clip_files(speech["zh"], speech["silent"])
        data["transcripts"] = [ZH, ZH]
    elif case == "pipe":
        data["transcripts"] = ["今天|天气"]
    elif case == "two kinds":
        files += [("recording", ("r.wav", speech["zh"].read_bytes(), "audio/wav"))]
    elif case == "no voice":
        target, code, status = "nobody", 2, 404
    body = assert_envelope(upload(client, target, files, data), code, status)
    if case == "silent":
        assert "silent.wav" in body["message"] and body["data"] == {"clip": "silent.wav"}
    assert listed(client, voice)["count"] == 0


def test_a_recording_is_cut_at_silences_and_its_slices_transcribed_later(client, voice, speech):
    recording = [("recording", ("recording.wav", speech["recording"].read_bytes(), "audio/wav"))]
    wrong = upload(client, voice, recording, {"transcripts": [ZH], "language": "zh"})
    slices = assert_envelope(wrong, 3, 400)["data"]["slices"]
    assert slices >= 2 and listed(client, voice)["count"] == 0
    added = assert_envelope(upload(client, voice, recording, {"language": "zh"}), 0, 200)["data"]["added"]
    assert len(added) == slices and all(clip["text"] == "" for clip in added)
    assert listed(client, voice)["untranscribed"] == slices
    client.patch(f"/voice-models/{voice}/training-data/{added[0]['clip_id']}", json={"text": ZH})
    assert listed(client, voice)["untranscribed"] == slices - 1


def make_zip(entries: dict[str, bytes], stored: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def archive_file(data: bytes) -> list:
    return [("archive", ("data.zip", data, "application/zip"))]


def test_an_archive_with_a_list_adds_its_clips(client, voice, speech):
    listing = f"wavs/a.wav|spk|ZH|{ZH}\nb.wav|spk|zh|欢迎使用语音合成服务。\n".encode()
    data = make_zip({"set/train.list": listing, "set/wavs/a.wav": speech["zh"].read_bytes(),
                     "set/b.wav": speech["zh2"].read_bytes()})
    added = assert_envelope(upload(client, voice, archive_file(data)), 0, 200)["data"]["added"]
    assert [(clip["text"], clip["source"]) for clip in added] == [(ZH, "archive"), ("欢迎使用语音合成服务。", "archive")]


@pytest.mark.parametrize("case", ["traversal", "absolute", "missing", "bomb", "too many", "no list", "not a zip"])
def test_a_hostile_archive_is_refused(make_client, png, clips, speech, tmp_path, case):
    client = make_client(max_upload_mb=1, max_training_clips=2)
    create_model(client, clips["5s"], png, "v1")
    outside = tmp_path / "secret.wav"
    outside.write_bytes(speech["zh"].read_bytes())
    entries = {"train.list": f"a.wav|s|ZH|{ZH}\n".encode(), "a.wav": speech["zh"].read_bytes()}
    if case == "traversal":
        entries["train.list"] = f"../../{outside.name}|s|ZH|{ZH}\n".encode()
    elif case == "absolute":
        entries["train.list"] = f"{outside}|s|ZH|{ZH}\n".encode()
    elif case == "missing":
        entries["train.list"] += f"nothere.wav|s|ZH|{ZH}\n".encode()
    elif case == "bomb":  # 4 MiB of zeros deflate to a few KB: the cap stops the read, not the header
        entries["a.wav"] = b"RIFF" + bytes(4 << 20)
    elif case == "too many":
        entries.update({f"x{i}.wav": b"x" for i in range(5)})
    elif case == "no list":
        del entries["train.list"]
    data = b"not a zip at all" if case == "not a zip" else make_zip(entries)
    assert len(data) < 1 << 20
    body = assert_envelope(upload(client, "v1", archive_file(data)), 3, 400)
    if case in ("traversal", "absolute", "missing"):
        assert len(body["data"]["errors"]) == 1
    assert listed(client, "v1")["count"] == 0


def test_the_clip_limit_holds_across_uploads_and_deleting_the_voice_removes_its_data(make_client, png, clips, speech):
    client = make_client(max_training_clips=2)
    create_model(client, clips["5s"], png, "v1")
    form = {"transcripts": [ZH], "language": "zh"}
    for _ in range(2):
        assert_envelope(upload(client, "v1", clip_files(speech["zh"]), form), 0, 200)
    assert_envelope(upload(client, "v1", clip_files(speech["zh"]), form), 3, 400)
    folder = client.app.state.voice_models.training.folder("v1")
    assert len(list((folder / "clips").iterdir())) == 2
    assert client.delete("/voice-models/v1").json()["code"] == 0
    assert not folder.exists()
