"""50 parallel creates and deletes leave both stores consistent: no lost, duplicated or orphaned record."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from service_helpers import create_model


def test_parallel_creates_and_deletes(client, data_dir, clips, png):
    client.post("/voice-categories", json={"category_id": "c1", "category_name": "新闻"})
    ids = [f"m{i:02d}" for i in range(50)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        created = list(pool.map(lambda i: create_model(client, clips["5s"], png, i, categories=["c1"]).json(), ids))
    assert all(body["code"] == 0 for body in created), [b for b in created if b["code"]][:2]
    # the same id from many threads at once: exactly one wins
    with ThreadPoolExecutor(max_workers=8) as pool:
        dupes = list(pool.map(lambda _: create_model(client, clips["5s"], png, "same").json()["code"], range(8)))
    assert sorted(dupes) == [0] + [2] * 7
    doomed = ids[::2]

    def mixed(job):
        kind, value = job
        if kind == "delete":
            return client.delete(f"/voice-models/{value}").json()["code"]
        return client.post("/voice-categories", json={"category_id": value, "category_name": value}).json()["code"]

    jobs = [("delete", i) for i in doomed] + [("category", f"k{i}") for i in range(25)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(mixed, jobs)) == {0}
    stored = json.loads((data_dir / "voice_models.json").read_text(encoding="utf-8"))
    kept = sorted(set(ids) - set(doomed)) + ["same"]
    assert sorted(m["model_id"] for m in stored) == sorted(kept)
    assert sorted(p.name for p in (data_dir / "audio").iterdir()) == sorted(kept)
    categories = json.loads((data_dir / "voice_categories.json").read_text(encoding="utf-8"))
    assert len(categories) == 26 and len({c["category_id"] for c in categories}) == 26
