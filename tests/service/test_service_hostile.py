"""The hostile-input catalogue: each answers in the envelope with the right code and status, and
leaves both stores and audio/ exactly as they were."""
from __future__ import annotations

import pytest
from service_helpers import assert_envelope, create_model, snapshot

from golden_data import model_file
from tts_service.settings import SOVITS_WEIGHT_FILE
from weights.torch_writer import stride_zero_bomb


@pytest.fixture
def seeded(client, clips, png):
    client.post("/voice-categories", json={"category_id": "c1", "category_name": "新闻"})
    assert create_model(client, clips["5s"], png, "taken", categories=["c1"]).json()["code"] == 0
    return client


def _upload(client, clips, png, model_id="fresh", avatar=None, clip=None, **fields):
    avatar = avatar if avatar is not None else ("a.png", png, "image/png")
    clip = clip if clip is not None else ("c.wav", clips["5s"].read_bytes(), "audio/wav")
    form = {"model_id": model_id, "model_name": "x", "gender": "1", **fields}
    return client.post("/voice-models", data=form, files={"avatar": avatar, "refer_wav": clip})


CASES = {
    "traversal id": (lambda c, k, p: _upload(c, k, p, model_id="../evil"), 3, 400),
    "dotdot id": (lambda c, k, p: _upload(c, k, p, model_id=".."), 3, 400),
    "blank id": (lambda c, k, p: _upload(c, k, p, model_id="   "), 3, 400),
    "slash id": (lambda c, k, p: _upload(c, k, p, model_id="a/b"), 3, 400),
    "long id": (lambda c, k, p: _upload(c, k, p, model_id="a" * 65), 3, 400),
    "duplicate id": (lambda c, k, p: _upload(c, k, p, model_id="taken"), 2, 409),
    "unknown category": (lambda c, k, p: _upload(c, k, p, categories=["nope"]), 3, 400),
    "bad gender": (lambda c, k, p: _upload(c, k, p, gender="7"), 3, 400),
    "gender not int": (lambda c, k, p: _upload(c, k, p, gender="abc"), 3, 422),
    "bad prompt language": (lambda c, k, p: _upload(c, k, p, prompt_language="klingon"), 3, 400),
    "non-image avatar": (lambda c, k, p: _upload(c, k, p, avatar=("a.png", b"<svg onload=alert(1)>", "image/png")), 3, 400),
    "non-audio clip": (lambda c, k, p: _upload(c, k, p, clip=("c.wav", b"RIFF" + b"\0" * 4000, "audio/wav")), 3, 400),
    "0-byte clip": (lambda c, k, p: _upload(c, k, p, clip=("c.wav", b"", "audio/wav")), 3, 400),
    "0-byte avatar": (lambda c, k, p: _upload(c, k, p, avatar=("a.png", b"", "image/png")), 3, 400),
    "2.9 s clip": (lambda c, k, p: _upload(c, k, p, clip=("c.wav", k["2.9s"].read_bytes(), "audio/wav")), 3, 400),
    "10.1 s clip": (lambda c, k, p: _upload(c, k, p, clip=("c.wav", k["10.1s"].read_bytes(), "audio/wav")), 3, 400),
    "missing fields": (lambda c, k, p: c.post("/voice-models", data={"model_id": "x"}), 3, 400),
    "missing files": (lambda c, k, p: c.post("/voice-models", data={"model_id": "x", "model_name": "x", "gender": "1"}), 3, 400),
    "delete traversal": (lambda c, k, p: c.delete("/voice-models/..%2F..%2Fetc"), 2, 404),  # no such route
    "delete dotted": (lambda c, k, p: c.delete("/voice-models/a..b"), 3, 400),
    "delete blank": (lambda c, k, p: c.delete("/voice-models/%20"), 3, 400),
    "delete unknown": (lambda c, k, p: c.delete("/voice-models/ghost"), 2, 404),
    "get unknown": (lambda c, k, p: c.get("/voice-models/ghost"), 2, 404),
    "patch unknown": (lambda c, k, p: c.patch("/voice-models/ghost", data={"model_name": "x"}), 2, 404),
    "patch nothing": (lambda c, k, p: c.patch("/voice-models/taken", data={}), 3, 400),
    "patch 2.9 s clip": (lambda c, k, p: c.patch("/voice-models/taken", files={
        "refer_wav": ("c.wav", k["2.9s"].read_bytes(), "audio/wav")}), 3, 400),
    "patch non-image": (lambda c, k, p: c.patch("/voice-models/taken", files={
        "avatar": ("a.html", b"<html></html>", "text/html")}), 3, 400),
    "categories unknown": (lambda c, k, p: c.post("/voice-models/taken/categories", json={"categories": ["zz"]}), 3, 400),
    "categories not a list": (lambda c, k, p: c.post("/voice-models/taken/categories", json={"categories": "c1"}), 3, 422),
    "categories body a list": (lambda c, k, p: c.post("/voice-models/taken/categories", json=["c1"]), 3, 422),
    "categories bad id": (lambda c, k, p: c.post("/voice-models/taken/categories", json={"categories": ["../x"]}), 3, 400),
    "categories model unknown": (lambda c, k, p: c.post("/voice-models/ghost/categories", json={"categories": []}), 2, 404),
    "category duplicate": (lambda c, k, p: c.post("/voice-categories", json={"category_id": "c1", "category_name": "x"}), 2, 409),
    "category blank id": (lambda c, k, p: c.post("/voice-categories", json={"category_id": " ", "category_name": "x"}), 3, 400),
    "category traversal id": (lambda c, k, p: c.post("/voice-categories", json={"category_id": "../c", "category_name": "x"}), 3, 400),
    "category missing name": (lambda c, k, p: c.post("/voice-categories", json={"category_id": "c9"}), 3, 400),
    "category wrong type": (lambda c, k, p: c.post("/voice-categories", json={"category_id": 5, "category_name": "x"}), 3, 422),
    "category huge name": (lambda c, k, p: c.post("/voice-categories", json={"category_id": "c9", "category_name": "x" * 101}), 3, 400),
    "category malformed json": (lambda c, k, p: c.post("/voice-categories", content=b"{oops",
                                                       headers={"content-type": "application/json"}), 3, 400),
    "category rename unknown": (lambda c, k, p: c.patch("/voice-categories/ghost", json={"category_name": "x"}), 2, 404),
    "category rename blank": (lambda c, k, p: c.patch("/voice-categories/c1", json={"category_name": "  "}), 3, 400),
    "category delete unknown": (lambda c, k, p: c.delete("/voice-categories/ghost"), 2, 404),
    "list page not int": (lambda c, k, p: c.get("/voice-models", params={"page": "abc"}), 3, 422),
    "unknown path": (lambda c, k, p: c.get("/no-such-thing"), 2, 404),
    "wrong method": (lambda c, k, p: c.put("/voice-models"), 3, 405),
    "static traversal": (lambda c, k, p: c.get("/audio/../voice_models.json"), 2, 404),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_and_nothing_changes(seeded, data_dir, clips, png, case):
    request, code, status = CASES[case]
    before = snapshot(data_dir)
    assert_envelope(request(seeded, clips, png), code, status)
    assert snapshot(data_dir) == before
    assert not any((data_dir / ".staging").iterdir())  # no leftovers from staging either


def test_oversized_upload_is_413(make_client, clips, png):
    client = make_client(max_upload_mb=0.05)
    data_dir = client.app.state.settings.data_dir
    before = snapshot(data_dir)
    body = assert_envelope(_upload(client, clips, png), 3, 413)  # the 5 s clip is ~160 kB
    assert "refer_wav" in body["message"]
    assert snapshot(data_dir) == before


def test_oversized_body_is_413(make_client):
    client = make_client(max_body_mb=0.01)
    assert_envelope(client.post("/voice-categories", json={"category_id": "c", "category_name": "x" * 20000}), 3, 413)

    def chunks():  # no Content-Length: counted while streaming
        for _ in range(20):
            yield b"x" * 1024

    assert_envelope(client.post("/voice-categories", content=chunks(), headers={"content-type": "application/json"}),
                    3, 413)


def test_crash_is_an_envelope_not_a_trace(client, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(client.app.state.voice_models, "list", boom)
    body = assert_envelope(client.get("/voice-models"), 1, 500)
    assert "secret" not in body["message"]


def test_set_model_refuses_a_hostile_checkpoint(make_client, tmp_path):
    """A SoVITS file of a few hundred bytes whose bfloat16 tensor repeats one element through stride 0:
    refused before anything is widened, as the caller's bad parameter naming the tensor; nothing is
    switched or remembered."""
    weights = {"gpt_path": model_file("gpt/v2/model.ckpt"), "sovits_path": model_file("sovits/v2/model.pth"),
               "cnhubert_base_path": model_file("hubert/chinese-hubert-base/pytorch_model.bin").parent,
               "bert_path": model_file("bert/chinese-roberta-wwm-ext-large/pytorch_model.bin").parent}
    client = make_client(**{key: str(path) for key, path in weights.items()})
    bomb = stride_zero_bomb(tmp_path / "bomb.pth", 2**24, key="enc_p.ssl_proj.weight")
    body = assert_envelope(client.post("/set_model", json={"sovits_model_path": str(bomb)}), 3, 400)
    assert "weight['enc_p.ssl_proj.weight']" in body["message"] and "stride 0" in body["message"], body
    assert not (client.app.state.settings.data_dir / SOVITS_WEIGHT_FILE).exists()
