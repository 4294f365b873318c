"""Fine-tuning a voice as a task of the durable queue, in process: the real preparation with the golden tiny
models, stand-in trainers exporting copies of the golden weights (tests/support/finetune_double.py), a
recording test engine. Progress fields, the voice's switch to its new weights, cancel, failure, the
refusals at submission, and training yielding to syntheses between steps."""
from __future__ import annotations

import contextlib
import json
import threading

import pytest
from fastapi.testclient import TestClient
from service_helpers import assert_envelope, create_model
from test_service_synthesis import FakeEngine as RecordingEngine

from golden_data import e2e_file, model_file
from support.finetune_double import ExportingDouble, register_exporting
from support.training_clips import SENTENCES, spoken_clips
from support.tasks import get_task, settings_for, wait_status, wait_until
from tts_service.admission import SynthesisSlots
from tts_service.app import create_app

ZH = SENTENCES
KNOBS = {"user_id": "admin", "sovits_epochs": 2, "gpt_epochs": 2, "batch_size": 2, "save_every_steps": 1}


def golden_settings() -> dict:
    return {"gpt_path": str(model_file("gpt/v2/model.ckpt")), "sovits_path": str(model_file("sovits/v2/model.pth")),
            "cnhubert_base_path": str(e2e_file("../hubert/chinese-hubert-base", inside="pytorch_model.bin")),
            "bert_path": str(e2e_file("../bert/chinese-roberta-wwm-ext-large", inside="pytorch_model.bin")),
            "device_target": "CPU"}


@pytest.fixture(scope="module")
def sentences(tmp_path_factory):
    return spoken_clips(tmp_path_factory.mktemp("finetune-clips"))


@pytest.fixture
def doubles(tmp_path, monkeypatch):
    from GPT_SoVITS.finetune import trainers

    monkeypatch.setattr(trainers, "FACTORIES", dict(trainers.FACTORIES))
    for name, value in (("hold_at", None), ("fail_at", None), ("held", threading.Event()),
                        ("hold", threading.Event())):
        monkeypatch.setattr(ExportingDouble, name, value)
    events = tmp_path / "events.jsonl"
    register_exporting(model_file("gpt/v2/model.ckpt"), model_file("sovits/v2/model.pth"), events)
    yield events
    ExportingDouble.hold.set()


@contextlib.contextmanager
def running(tmp_path, engine=None, **overrides):
    settings = settings_for(tmp_path / "data", **golden_settings(), **overrides)
    with TestClient(create_app(settings, engine=engine or RecordingEngine())) as client:
        yield client


def voice_with_data(client, clips, png, sentences, model_id="tuned") -> str:
    assert create_model(client, clips["5s"], png, model_id).json()["code"] == 0
    files = [("clips", (path.name, path.read_bytes(), "audio/wav")) for path in sentences]
    reply = client.post(f"/voice-models/{model_id}/training-data", files=files,
                        data={"transcripts": ZH, "language": "zh"}).json()
    assert reply["code"] == 0, reply
    return model_id


def start(client, model_id: str, **knobs) -> dict:
    reply = client.post(f"/voice-models/{model_id}/finetune", json={**KNOBS, **knobs}).json()
    assert reply["code"] == 0, reply
    return reply["data"]


def test_a_finetune_task_reports_progress_and_switches_the_voice(tmp_path, doubles, clips, png, sentences):
    engine = RecordingEngine()
    with running(tmp_path, engine) as client:
        voice_with_data(client, clips, png, sentences)
        task = start(client, "tuned")
        assert (task["kind"], task["status"], task["stage"], task["model_id"]) == ("finetune", "wait", "wait", "tuned")
        done = wait_status(client, task["task_id"], "admin", timeout=240)
        assert done["status"] == "done", done
        steps = 2 * 2  # 3 clips in batches of 2: 2 steps an epoch, 2 epochs
        assert (done["stage"], done["step"], done["epoch"], done["progress"]) == ("export", steps, 2, 100)
        assert isinstance(done["loss"], float) and done["eta_seconds"] == 0
        record = client.get("/voice-models/tuned").json()["data"]
        assert record["weights"] == done["weights"]
        assert record["weights"]["owned"] and record["weights"]["task_id"] == task["task_id"]
        gpt = record["weights"]["gpt"]
        assert gpt.startswith("voices/tuned/weights/") and gpt.endswith(".ckpt")
        assert record["weights"]["sovits"].endswith(".pth")
        data_dir = client.app.state.settings.data_dir
        assert (data_dir / record["weights"]["sovits"]).read_bytes() == model_file("sovits/v2/model.pth").read_bytes()
        assert not (data_dir / "voices" / "tuned" / "finetune" / task["task_id"]).exists()
        client.post("/synthesize", json={"model_id": "tuned", "text": "你好"})
        assert engine.calls[-1].weights.sovits == str((data_dir / record["weights"]["sovits"]).resolve())
    events = [json.loads(line) for line in doubles.read_text().splitlines()]
    assert [e["step"] for e in events if e["model"] == "s2" and "step" in e] == list(range(1, steps + 1))


def test_cancel_stops_between_steps_and_leaves_the_voice_as_it_was(tmp_path, doubles, clips, png, sentences):
    ExportingDouble.hold_at = ("s2", 2)
    with running(tmp_path) as client:
        voice_with_data(client, clips, png, sentences)
        task = start(client, "tuned")
        assert ExportingDouble.held.wait(240)
        reply = client.delete(f"/voice-tasks/{task['task_id']}", params={"user_id": "admin"}).json()["data"]
        assert reply["cancelled"] is True
        ExportingDouble.hold.set()
        data_dir = client.app.state.settings.data_dir
        run = data_dir / "voices" / "tuned" / "finetune" / task["task_id"]
        wait_until(lambda: not run.exists(), timeout=60)
        final = get_task(client, task["task_id"], "admin")
        assert (final["status"], final["reason"]) == ("error", "cancelled")
        assert client.get("/voice-models/tuned").json()["data"]["weights"] is None
    assert max(json.loads(line)["step"] for line in doubles.read_text().splitlines() if '"step"' in line) == 2


def test_a_failed_training_leaves_the_voice_as_it_was_with_the_reason(tmp_path, doubles, clips, png, sentences):
    ExportingDouble.fail_at = ("s1", 1)
    with running(tmp_path) as client:
        voice_with_data(client, clips, png, sentences)
        task = start(client, "tuned")
        failed = wait_status(client, task["task_id"], "admin", timeout=240)
        assert (failed["status"], failed["reason"]) == ("error", "failed")
        assert "训练失败" in failed["error"] and failed["stage"] == "gpt"
        assert client.get("/voice-models/tuned").json()["data"]["weights"] is None


def test_submission_is_refused_without_usable_data_or_twice(tmp_path, doubles, clips, png, sentences):
    ExportingDouble.hold_at = ("s2", 1)
    with running(tmp_path) as client:
        assert_envelope(client.post("/voice-models/nobody/finetune", json=KNOBS), 2, 404)
        assert create_model(client, clips["5s"], png, "empty").json()["code"] == 0
        assert_envelope(client.post("/voice-models/empty/finetune", json=KNOBS), 3, 400)
        assert_envelope(client.post("/voice-models/empty/finetune", json={**KNOBS, "sovits_epochs": -1}), 3, 422)
        assert_envelope(client.post("/voice-models/empty/finetune", json={**KNOBS, "pretrained_s1": "/etc"}), 3, 422)
        voice_with_data(client, clips, png, sentences)
        task = start(client, "tuned")
        assert_envelope(client.post("/voice-models/tuned/finetune", json=KNOBS), 2, 409)
        assert ExportingDouble.held.wait(240)
        client.delete(f"/voice-tasks/{task['task_id']}", params={"user_id": "admin"})
        ExportingDouble.hold.set()
        wait_status(client, task["task_id"], "admin")


def test_training_yields_between_steps_to_the_synthesis_slots(tmp_path, doubles, clips, png, sentences):
    with running(tmp_path) as client:
        slots: SynthesisSlots = client.app.state.synthesis_slots
        finetuner = client.app.state.task_queue.finetuner
        assert finetuner.yield_to == slots.wait_until_idle  # the queue's fine-tunes wait for syntheses
        calls, waiting, release = [], threading.Event(), threading.Event()

        turns_in_preparation = len(sentences) - 1  # one between each two clips

        def yield_to(cancelled):
            calls.append(1)
            if len(calls) == turns_in_preparation + 2:  # after the second step: as if a synthesis held a
                # slot until `release`
                waiting.set()
                release.wait(60)
            return slots.wait_until_idle(cancelled)

        finetuner.yield_to = yield_to
        voice_with_data(client, clips, png, sentences)
        task = start(client, "tuned", gpt_epochs=0)
        assert waiting.wait(240)
        frozen = get_task(client, task["task_id"], "admin")
        release.set()
        done = wait_status(client, task["task_id"], "admin", timeout=240)
        assert (frozen["stage"], frozen["step"]) == ("sovits", 2)  # no step while it waited
        assert done["status"] == "done" and done["weights"]["gpt"] is None
    assert len(calls) == turns_in_preparation + 4  # and one after each of the 4 steps


def test_wait_until_idle_blocks_only_while_a_synthesis_runs_or_waits():
    from service_helpers import run_coroutine

    slots = SynthesisSlots(1, 4, 5.0)
    assert slots.wait_until_idle(lambda: False) is False  # idle: returns at once
    run_coroutine(slots.acquire())
    asked = []

    def give_up() -> bool:
        asked.append(1)
        return len(asked) > 2

    assert slots.wait_until_idle(give_up, check_every=0.01) is True and len(asked) == 3
    slots.release()
    assert slots.wait_until_idle(lambda: False) is False


def test_training_holds_the_models_turn_except_while_it_yields(monkeypatch):
    """MindSpore crashes when two threads compute at once (tests/pipeline/test_e2e_golden.py): the run holds
    the engine's models' lock (`models_turn`) while it computes and gives it back between steps."""
    from GPT_SoVITS.finetune import cli
    from tts_service.finetuning import Estimate, Finetuner

    lock, seen = threading.Lock(), []

    def run(options, hooks):
        for _ in range(2):
            seen.append(("step", lock.locked()))
            hooks.between_steps()
        seen.append(("export", lock.locked()))

    monkeypatch.setattr(cli, "run", run)
    finetuner = Finetuner(None, None, yield_to=lambda cancelled: seen.append(("yield", lock.locked())),
                          models_turn=lambda: lock)
    finetuner._train(None, Estimate({}, {}), lambda fields: None, lambda: False)
    assert seen == [("step", True), ("yield", False)] * 2 + [("export", True)] and not lock.locked()


def test_start_up_removes_the_run_folders_of_tasks_no_longer_live(tmp_path, doubles):
    settings = settings_for(tmp_path / "data", **golden_settings())
    runs = settings.voices_dir / "v1" / "finetune"
    for task_id in ("gone", "finished", "waiting"):
        (runs / task_id / "state").mkdir(parents=True)
    from tts_service.tasks.factory import make_backend
    from tts_service.tasks.record import new_entry

    backend = make_backend(settings)
    backend.create(new_entry("finished", "admin", {"kind": "finetune", "model_id": "v1"}))
    backend.finish("finished", "error", reason="failed", error="x")
    backend.create(new_entry("waiting", "admin", {"kind": "finetune", "model_id": "v1"}))
    app = create_app(settings, engine=RecordingEngine())
    from tts_service.finetuning import Finetuner

    assert Finetuner(settings, app.state.voice_models).sweep(backend.get) == 2
    assert sorted(path.name for path in runs.iterdir()) == ["waiting"]  # a live task keeps its folder
    (runs / "gone" / "state").mkdir(parents=True)
    with TestClient(app):  # the queue's start-up sweeps too (the waiting task then runs and fails: no voice)
        assert not (runs / "gone").exists()


def test_a_recording_longer_than_the_limit_is_refused(make_client, clips, png):
    client = make_client(max_recording_seconds=4)
    create_model(client, clips["5s"], png, "v1")
    files = [("recording", ("long.wav", clips["5s"].read_bytes(), "audio/wav"))]
    body = assert_envelope(client.post("/voice-models/v1/training-data", files=files, data={"language": "zh"}), 3, 400)
    assert "录音过长" in body["message"]


def test_if_dpo_knob_reaches_the_command(tmp_path, monkeypatch):
    """`if_dpo` (a JSON boolean, off when left out) is the command's `--if-dpo`; anything else is a 422."""
    from tts_service import finetuning
    from tts_service.routers.finetune import FinetuneRequest

    monkeypatch.setattr(finetuning, "_version_of", lambda path: "v2")
    finetuner = finetuning.Finetuner(settings_for(tmp_path / "data"), None)
    assert FinetuneRequest(user_id="admin", if_dpo=True).knobs() == {"if_dpo": True}
    assert FinetuneRequest(user_id="admin").knobs() == {}
    for knobs, expected in (({}, False), ({"if_dpo": False}, False), ({"if_dpo": True, "gpt_epochs": 3}, True)):
        assert finetuner._options(tmp_path / "a.list", tmp_path / "out", "voice", knobs).if_dpo is expected
    with pytest.raises(ValueError):
        FinetuneRequest(user_id="admin", if_dpo="maybe")
