"""Static files: /output serves direct-synthesis results but never the task results folder."""
from __future__ import annotations


def test_task_results_are_not_public_but_direct_results_are(client, data_dir):
    (data_dir / "output" / "tasks").mkdir(parents=True, exist_ok=True)
    (data_dir / "output" / "tasks" / "T1.wav").write_bytes(b"RIFF task")
    (data_dir / "output" / "direct").mkdir(parents=True, exist_ok=True)
    (data_dir / "output" / "direct" / "a.wav").write_bytes(b"RIFF direct")
    assert client.get("/output/direct/a.wav").content == b"RIFF direct"
    for url in ("/output/tasks/T1.wav", "/output/direct/../tasks/T1.wav"):
        response = client.get(url)
        assert response.status_code == 404 and response.json()["code"] == 2
