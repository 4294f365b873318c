"""Voice models and categories: the success paths of every management endpoint."""
from __future__ import annotations

import json

import soundfile as sf
from service_helpers import assert_envelope, create_model


def test_create_stores_upload_and_normalised_clip(client, data_dir, clips, png):
    body = assert_envelope(create_model(client, clips["5s_mp3"], png), 0, 200)
    record = body["data"]
    assert record["model_id"] == "xiaoyun" and record["gender"] == 2 and record["categories"] == []
    assert record["avatar_url"].startswith("/audio/xiaoyun/avatar.png")
    assert abs(record["clip_seconds"] - 5.0) < 0.05
    assert not any(str(data_dir) in str(v) for v in record.values())  # no server paths
    folder = data_dir / "audio" / "xiaoyun"
    assert (folder / "refer_upload.mp3").read_bytes() == clips["5s_mp3"].read_bytes()
    info = sf.info(str(folder / "refer.wav"))
    assert (info.samplerate, info.channels, info.subtype) == (32000, 1, "PCM_16")
    assert abs(info.duration - 5.0) < 0.05
    stored = json.loads((data_dir / "voice_models.json").read_text(encoding="utf-8"))
    assert [m["model_id"] for m in stored] == ["xiaoyun"]
    for url in (record["avatar_url"], record["refer_wav_url"], record["refer_upload_url"]):
        assert client.get(url).status_code == 200


def test_list_filters_and_paging(client, clips, png):
    assert_envelope(client.post("/voice-categories", json={"category_id": "news", "category_name": "新闻"}), 0, 200)
    create_model(client, clips["5s"], png, "a1", model_name="Alice", categories=["news"])
    create_model(client, clips["5s"], png, "b2", model_name="Bob")
    create_model(client, clips["5s"], png, "c3", model_name="alicia")
    page = assert_envelope(client.get("/voice-models", params={"page": 1, "page_size": 2}), 0, 200)["data"]
    assert (page["total"], page["pageIndex"], page["pageSize"], len(page["data"])) == (3, 1, 2, 2)
    assert [m["model_id"] for m in page["data"]] == ["c3", "b2"]  # newest first
    names = client.get("/voice-models", params={"name": "ALI"}).json()["data"]
    assert sorted(m["model_id"] for m in names["data"]) == ["a1", "c3"]
    in_news = client.get("/voice-models", params={"category": "news"}).json()["data"]
    assert [m["model_id"] for m in in_news["data"]] == ["a1"]
    clamped = client.get("/voice-models", params={"page": 0, "page_size": 1000}).json()["data"]
    assert (clamped["pageIndex"], clamped["pageSize"]) == (1, 100)


def test_get_edit_and_delete(client, data_dir, clips, png):
    create_model(client, clips["5s"], png, "m1")
    assert client.get("/voice-models/m1").json()["data"]["model_name"] == "小云"
    edited = assert_envelope(client.patch("/voice-models/m1", data={
        "model_name": "新名字", "gender": "1", "prompt_text": "Hello there.", "prompt_language": "en"}), 0, 200)["data"]
    assert (edited["model_name"], edited["gender"], edited["prompt_text"], edited["prompt_language"]) == \
        ("新名字", 1, "Hello there.", "en")
    clip = clips["5s_mp3"]
    new = client.patch("/voice-models/m1", files={"refer_wav": (clip.name, clip.read_bytes(), "audio/mpeg")}).json()
    assert new["data"]["refer_upload_url"].startswith("/audio/m1/refer_upload.mp3")
    assert sorted(p.name for p in (data_dir / "audio" / "m1").iterdir()) == \
        ["avatar.png", "refer.wav", "refer_upload.mp3"]  # the old upload is gone
    assert_envelope(client.delete("/voice-models/m1"), 0, 200)
    assert not (data_dir / "audio" / "m1").exists()
    assert client.get("/voice-models").json()["data"]["total"] == 0


def test_categories_lifecycle(client, clips, png):
    assert_envelope(client.post("/voice-categories", json={"category_id": "c1", "category_name": " 新闻 ",
                                                           "description": "正式"}), 0, 200)
    client.post("/voice-categories", json={"category_id": "c2", "category_name": "故事"})
    create_model(client, clips["5s"], png, "m1", categories=["c1", "c2", "c1"])
    listed = assert_envelope(client.get("/voice-categories"), 0, 200)["data"]
    assert [(c["category_id"], c["category_name"], c["model_count"]) for c in listed] == \
        [("c2", "故事", 1), ("c1", "新闻", 1)]
    renamed = assert_envelope(client.patch("/voice-categories/c1", json={"category_name": "新闻播报"}), 0, 200)
    assert renamed["data"]["category_name"] == "新闻播报" and renamed["data"]["description"] == "正式"
    updated = assert_envelope(client.post("/voice-models/m1/categories", json={"categories": ["c2"]}), 0, 200)
    assert updated["data"]["categories"] == ["c2"]
    assert_envelope(client.delete("/voice-categories/c2"), 0, 200)
    assert client.get("/voice-models/m1").json()["data"]["categories"] == []
    assert [c["category_id"] for c in client.get("/voice-categories").json()["data"]] == ["c1"]


def test_pages_and_health(client):
    for path in ("/", "/manager"):
        response = client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (307, "/index")
    page = client.get("/index")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["state"] == "missing"
    assert health["weights"]["gpt_path"]["present"] is False
    assert not health["weights"]["gpt_path"]["path"].startswith("/")
    assert {"device", "version"} <= set(health)
    docs = client.get("/openapi.json").json()
    for path in ("/voice-models", "/voice-models/{model_id}", "/voice-categories/{category_id}", "/synthesize",
                 "/set_model", "/healthz"):
        assert path in docs["paths"]
