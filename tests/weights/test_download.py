"""`python -m GPT_SoVITS.download` against a stand-in hub on 127.0.0.1 (support/fake_hub.py) serving a tiny
file set made here: a fresh download into the service's default layout, a transfer cut off and resumed, files
that do not match the hub's record refused, files already there kept and damaged ones fetched anew, an
unknown version refused before any request, and `install.sh --models`. Nothing leaves the machine."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from GPT_SoVITS import download, versions
from support.fake_hub import FakeHub
from tts_service.settings import Settings, from_args

REPO = Path(__file__).resolve().parents[2]
MIB = 1 << 20


def release() -> dict[str, bytes]:
    """Every file the command knows, each with its own small content."""
    return {path: f"{path}\n".encode() * (40 + i) for i, path in enumerate(download.files_for([download.ALL]))}


def know_heads(monkeypatch, files: dict[str, bytes]) -> None:
    """The registry's md5 of each released SoVITS file's head, for this made-up release."""
    for name, version in versions.VERSIONS.items():
        if version.pretrained_md5 and version.sovits_file in files:
            head = hashlib.md5(files[version.sovits_file][:8192]).hexdigest()
            monkeypatch.setitem(versions.VERSIONS, name, dataclasses.replace(version, pretrained_md5=(head,)))


@pytest.fixture
def hub(monkeypatch):
    files = release()
    know_heads(monkeypatch, files)
    with FakeHub(download.REPO_ID, files) as running:
        yield running


def fetch(hub: FakeHub, folder: Path, *targets: str) -> int:
    return download.main([*targets, "--endpoint", hub.url, "--dir", str(folder)])


def test_a_fresh_download_lands_where_the_service_reads_its_weights(hub, tmp_path, capsys):
    assert fetch(hub, tmp_path, "v2") == 0
    for path in download.files_for(["v2"]):
        assert (tmp_path / path).read_bytes() == hub.files[path], path
    assert not (tmp_path / "sv").exists()  # v2 needs no speaker verifier
    assert capsys.readouterr().out.count("fetched") == len(download.files_for(["v2"]))
    assert fetch(hub, tmp_path, "v2ProPlus") == 0
    for path in ("s1v3.ckpt", "v2Pro/s2Gv2ProPlus.pth", "sv/pretrained_eres2netv2w24s4ep4.ckpt"):  # registry's
        assert (tmp_path / path).read_bytes() == hub.files[path]
    assert not (tmp_path / "v2Pro/s2Gv2Pro.pth").exists()
    # the default folder is the service's: its default weight paths are these files and folders
    files = download.files_for(["v2", "hubert", "bert", "speaker_verifier"])
    places = {str(download.DEFAULT_DIR / p) for p in files} | {str((download.DEFAULT_DIR / p).parent) for p in files}
    defaults = Settings()
    assert {defaults.gpt_path, defaults.sovits_path, defaults.cnhubert_base_path, defaults.bert_path,
            defaults.sv_path} <= places


def test_a_transfer_cut_off_resumes_where_it_stopped(tmp_path, capsys, monkeypatch):
    files = release()
    large = "gsv-v2final-pretrained/s2G2333k.pth"
    files[large] = os.urandom(11 * MIB)  # more than huggingface_hub writes at once, so a part is kept
    know_heads(monkeypatch, files)
    with FakeHub(download.REPO_ID, files) as hub:
        hub.cut[large] = 10 * MIB + MIB // 2
        assert fetch(hub, tmp_path, "v2") == 1
        assert "run the command again" in capsys.readouterr().err.lower()
        assert not (tmp_path / large).exists()
        assert fetch(hub, tmp_path, "v2") == 0
        first, second = hub.ranges(large)
        assert first is None and second.startswith("bytes=")  # the second transfer asked only for the rest
        assert 0 < int(second.removeprefix("bytes=").rstrip("-")) <= 10 * MIB + MIB // 2
        assert (tmp_path / large).read_bytes() == files[large]


@pytest.mark.parametrize("path, damage, said", [
    ("gsv-v2final-pretrained/s2G2333k.pth", lambda b: b[:-1] + bytes([b[-1] ^ 1]), "sha256"),
    ("chinese-hubert-base/config.json", lambda b: bytes([b[0] ^ 1]) + b[1:], "git blob id"),
    ("gsv-v2final-pretrained/s2G2333k.pth", lambda b: b[:-10], "size"),
])
def test_a_download_that_does_not_match_the_hubs_record_is_refused(hub, tmp_path, capsys, path, damage, said):
    hub.served[path] = damage(hub.files[path])  # the bytes differ from the size and hash the hub states
    assert fetch(hub, tmp_path, "v2") == 1
    err = capsys.readouterr().err
    assert path in err and said in err
    assert not (tmp_path / path).exists()


def test_a_sovits_file_the_registry_does_not_know_is_refused(hub, tmp_path, capsys):
    """A mirror that serves another file under a released name, consistently with its own record."""
    path = "v2Pro/s2Gv2Pro.pth"
    hub.files[path] = b"another model" * 1000
    assert fetch(hub, tmp_path, "v2Pro") == 1
    err = capsys.readouterr().err
    assert path in err and "registry" in err
    assert not (tmp_path / path).exists()


def test_every_weight_file_of_the_registry_is_fetched():
    """Each released file or folder the registry names is in the command's list (a folder by its files)."""
    files = download.files_for([download.ALL])
    for version in versions.SUPPORTED:
        for path in versions.VERSIONS[version].released().values():
            place = path.removeprefix(versions.PRETRAINED + "/")
            assert place in files or any(f.startswith(place + "/") for f in files), place


def test_files_already_there_are_kept_and_damaged_ones_fetched_anew(hub, tmp_path, capsys):
    assert fetch(hub, tmp_path, "v2") == 0
    count = len(hub.fetched)
    assert fetch(hub, tmp_path, "v2") == 0
    assert len(hub.fetched) == count  # only the hub's records were read, no file's bytes
    assert capsys.readouterr().out.count("present") == len(download.files_for(["v2"]))
    # put there by hand (no download records): recognised by their hashes
    for record in (tmp_path / ".cache").rglob("*"):
        if record.is_file():
            record.unlink()
    config, sovits = tmp_path / "chinese-hubert-base/config.json", tmp_path / "gsv-v2final-pretrained/s2G2333k.pth"
    config.write_bytes(bytes([config.read_bytes()[0] ^ 1]) + config.read_bytes()[1:])  # same size, other bytes
    sovits.write_bytes(sovits.read_bytes()[:100])  # an older or cut file
    assert fetch(hub, tmp_path, "v2") == 0
    out = capsys.readouterr().out
    assert out.count("replaced") == 2 and out.count("present") == len(download.files_for(["v2"])) - 2
    assert hub.ranges("chinese-hubert-base/config.json")[-1] is None  # fetched whole, not appended to
    for path in download.files_for(["v2"]):
        assert (tmp_path / path).read_bytes() == hub.files[path]


def test_the_closing_hint_starts_the_service_on_the_files(hub, tmp_path, capsys):
    """Files outside the default folder: the last line is the api_ms.py command line that reads them."""
    assert fetch(hub, tmp_path, "v2Pro") == 0
    hint = capsys.readouterr().out.splitlines()[-1]
    assert hint.startswith("v2Pro: python api_ms.py ")
    settings = from_args(shlex.split(hint.removeprefix("v2Pro: python api_ms.py ")), {})
    released = ("s1v3.ckpt", "v2Pro/s2Gv2Pro.pth", "sv/pretrained_eres2netv2w24s4ep4.ckpt")
    assert (settings.gpt_path, settings.sovits_path, settings.sv_path) == tuple(
        str(tmp_path.resolve() / p) for p in released)
    assert (settings.cnhubert_base_path, settings.bert_path) == (
        str(tmp_path.resolve() / "chinese-hubert-base"), str(tmp_path.resolve() / "chinese-roberta-wwm-ext-large"))


@pytest.mark.parametrize("target, said", [("v5", "unknown"), ("V2", "unknown"), ("v3", "does not run")])
def test_an_unknown_version_is_refused_with_the_choices(tmp_path, target, said):
    done = subprocess.run([sys.executable, "-m", "GPT_SoVITS.download", target, "--dir", str(tmp_path),
                           "--endpoint", "http://127.0.0.1:9"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"'{target}'" in done.stderr and said in done.stderr
    assert "v1, v2, v2Pro, v2ProPlus, hubert, bert, speaker_verifier, all" in done.stderr
    assert not any(tmp_path.iterdir())


def test_install_sh_models_runs_the_download(tmp_path):
    """install.sh --models v2,v2Pro --endpoint URL: after the packages, the download command with those."""
    calls = tmp_path / "calls"
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\n')
    python.chmod(0o755)
    done = subprocess.run(["bash", "install.sh", "--models", "v2,v2Pro", "--endpoint", "https://hf-mirror.com"],
                          cwd=REPO, env={**os.environ, "PYTHON": str(python)}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = calls.read_text().splitlines()
    assert lines[-1] == "-m GPT_SoVITS.download v2 v2Pro --endpoint https://hf-mirror.com"
    assert any(line.startswith("-m pip install") for line in lines[:-1])
    refused = subprocess.run(["bash", "install.sh", "--modles", "v2"], cwd=REPO, capture_output=True, text=True,
                             env={**os.environ, "PYTHON": str(python)}, timeout=120)
    assert refused.returncode == 2 and "--modles" in refused.stderr


def test_the_missing_weights_message_names_the_command():
    """What a new user sees before any weights are there (service 503, infer.py) says how to fetch them."""
    from GPT_SoVITS.pipeline.errors import missing_weights_message

    message = missing_weights_message([("gpt", "x.ckpt")])
    assert "python -m GPT_SoVITS.download v2" in message
