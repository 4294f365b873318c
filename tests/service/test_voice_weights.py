"""Voices with their own GPT/SoVITS weights: the record and the API that set them, the options a synthesis
with such a voice carries, and the engine's bounded cache of loaded pairs (a stand-in synthesizer class:
the real loading is tested against a running server in test_voice_weights_real.py)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from service_helpers import assert_envelope, create_model
from test_service_synthesis import FakeEngine as RecordingEngine

from GPT_SoVITS import runtime
from GPT_SoVITS.pipeline import SynthesisError, SynthesisOptions, VoiceWeights
from tts_service import engine as engine_module
from tts_service.engine import Engine
from tts_service.settings import Settings
from tts_service.storage.voice_weights import record_weights
from tts_service.voice_weights import PairCache


class StubSynth:
    """Records how it was loaded; satisfies what the engine calls on a synthesizer."""

    loaded: list["StubSynth"] = []

    def __init__(self, paths, sharing):
        self.paths, self.sharing, self.closed, self.spoken = paths, sharing, False, []
        self.sample_rate, self.versions, self.needed_weights = 32000, {"sovits": "v2"}, ("gpt", "sovits")

    @classmethod
    def load(cls, paths, batching=None, sharing=None):
        made = cls(paths, sharing)
        cls.loaded.append(made)
        return made

    def warm_up(self):
        return {}

    def warm_up_rest(self):
        return {}

    def batching_stats(self):
        return None

    def synthesize(self, options, on_progress=None, should_cancel=None):
        self.spoken.append(options.text)
        return self.sample_rate, None

    def close(self):
        self.closed = True


@pytest.fixture
def weight_files(tmp_path):
    files = {}
    for name in ("base.ckpt", "base.pth", "a.ckpt", "a.pth", "b.pth", "c.pth"):
        files[name] = tmp_path / "w" / name
        files[name].parent.mkdir(exist_ok=True)
        files[name].write_bytes(b"x")
    for folder in ("hubert", "bert"):
        (tmp_path / "w" / folder).mkdir()
    return files


@pytest.fixture
def engine(tmp_path, weight_files, monkeypatch):
    StubSynth.loaded = []
    monkeypatch.setattr(engine_module, "_synthesizer_class", lambda: StubSynth)
    monkeypatch.setattr(runtime, "configure", lambda *args: None)  # no MindSpore: the synthesizers are stubs
    settings = Settings(data_dir=tmp_path, gpt_path=str(weight_files["base.ckpt"]),
                        sovits_path=str(weight_files["base.pth"]), cnhubert_base_path=str(tmp_path / "w" / "hubert"),
                        bert_path=str(tmp_path / "w" / "bert"), voice_weights_cache=2)
    return Engine(settings)


def speak(engine: Engine, text: str, gpt=None, sovits=None) -> StubSynth:
    weights = None if gpt is None and sovits is None else VoiceWeights(gpt and str(gpt), sovits and str(sovits))
    engine.synthesize(SynthesisOptions(ref_wav_path="x.wav", text=text, weights=weights))
    return next(synth for synth in StubSynth.loaded if text in synth.spoken)


def test_a_voice_with_its_own_weights_gets_a_second_pair_sharing_the_default(engine, weight_files):
    default = speak(engine, "plain")
    own = speak(engine, "tuned", weight_files["a.ckpt"], weight_files["a.pth"])
    assert own is not default and own.sharing is default
    assert (own.paths.gpt, own.paths.sovits) == (str(weight_files["a.ckpt"]), str(weight_files["a.pth"]))
    assert own.paths.hubert == default.paths.hubert
    assert speak(engine, "tuned again", weight_files["a.ckpt"], weight_files["a.pth"]) is own  # loaded once
    only_sovits = speak(engine, "half", sovits=weight_files["b.pth"])  # its GPT is the default's
    assert (only_sovits.paths.gpt, only_sovits.paths.sovits) == (str(weight_files["base.ckpt"]),
                                                                 str(weight_files["b.pth"]))
    assert speak(engine, "same as default", weight_files["base.ckpt"], weight_files["base.pth"]) is default
    loaded = engine.status()["voice_weights"]
    assert loaded["capacity"] == 2
    assert [(pair["gpt"], pair["sovits"]) for pair in loaded["loaded"]] == [("w/a.ckpt", "w/a.pth"),
                                                                            ("w/base.ckpt", "w/b.pth")]


def test_the_least_recently_used_pair_is_closed_when_the_cache_is_full(engine, weight_files):
    speak(engine, "default")
    first = speak(engine, "a", sovits=weight_files["a.pth"])
    second = speak(engine, "b", sovits=weight_files["b.pth"])
    speak(engine, "a again", sovits=weight_files["a.pth"])  # a is now the most recent
    third = speak(engine, "c", sovits=weight_files["c.pth"])
    assert second.closed and not first.closed and not third.closed
    assert speak(engine, "b again", sovits=weight_files["b.pth"]) is not second  # loaded again
    assert [pair["sovits"] for pair in engine.status()["voice_weights"]["loaded"]] == ["w/c.pth", "w/b.pth"]


def test_missing_voice_weights_fail_that_synthesis_only(engine, weight_files, tmp_path):
    with pytest.raises(SynthesisError, match="gone.pth"):
        speak(engine, "x", sovits=tmp_path / "gone.pth")
    assert speak(engine, "fine") is StubSynth.loaded[0]
    assert engine.status()["voice_weights"]["loaded"] == []


def test_one_pair_loads_once_when_two_syntheses_ask_together(weight_files):
    cache, started, release, loads = PairCache(2), threading.Event(), threading.Event(), []

    def load(pair):
        loads.append(pair)
        started.set()
        release.wait(30)
        return StubSynth(pair, None)

    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get(("g", "s"), load))) for _ in range(2)]
    threads[0].start()
    assert started.wait(30)
    threads[1].start()
    release.set()
    for thread in threads:
        thread.join(30)
    assert len(loads) == 1 and got[0] is got[1]


def test_set_model_drops_the_pairs_sharing_the_old_default(engine, weight_files):
    speak(engine, "default")
    own = speak(engine, "tuned", sovits=weight_files["a.pth"])
    engine.set_model(sovits_path=str(weight_files["c.pth"]))
    assert own.closed and engine.status()["voice_weights"]["loaded"] == []


# ---- the record and the API ------------------------------------------------------------------------


def test_put_weights_then_synthesis_with_the_voice_carries_them(make_client, clips, png, weight_files):
    engine = RecordingEngine()
    client = make_client(engine=engine)
    create_model(client, clips["5s"], png, "tuned")
    create_model(client, clips["5s"], png, "plain")
    body = client.put("/voice-models/tuned/weights", json={"gpt_path": str(weight_files["a.ckpt"]),
                                                           "sovits_path": str(weight_files["a.pth"])}).json()
    assert body["code"] == 0, body
    assert body["data"]["weights"] == {"gpt": "a.ckpt", "sovits": "a.pth", "owned": False, "task_id": None}
    assert client.get("/voice-models/tuned").json()["data"]["weights"]["sovits"] == "a.pth"
    assert client.get("/voice-models/plain").json()["data"]["weights"] is None
    for model_id in ("tuned", "plain"):
        assert client.post("/synthesize", json={"model_id": model_id, "text": "你好"}).status_code == 200
    tuned, plain = engine.calls
    assert tuned.weights == VoiceWeights(str(weight_files["a.ckpt"].resolve()), str(weight_files["a.pth"].resolve()))
    assert plain.weights is None
    client.put("/voice-models/tuned/weights", json={})
    assert client.get("/voice-models/tuned").json()["data"]["weights"] is None


def test_put_weights_refuses_what_is_not_a_weight_file(make_client, clips, png, tmp_path):
    client = make_client(engine=RecordingEngine())
    create_model(client, clips["5s"], png, "tuned")
    (tmp_path / "notes.txt").write_text("x")
    for body in ({"gpt_path": str(tmp_path / "absent.ckpt")}, {"sovits_path": str(tmp_path / "notes.txt")}):
        assert_envelope(client.put("/voice-models/tuned/weights", json=body), 3, 400)
    assert_envelope(client.put("/voice-models/nobody/weights", json={}), 2, 404)
    assert client.get("/voice-models/tuned").json()["data"]["weights"] is None


def voice_owning(client, clips, png, file_name: str) -> Path:
    """A voice "tuned" whose SoVITS file `file_name` lies in its own weights folder, as a fine-tune leaves it."""
    create_model(client, clips["5s"], png, "tuned")
    store, settings = client.app.state.voice_models, client.app.state.settings
    folder = store.private_folder("tuned") / "weights"
    folder.mkdir(parents=True)
    (folder / file_name).write_bytes(b"pth")
    store.set_weights("tuned", record_weights(None, folder / file_name, True, settings))
    return folder / file_name


def test_deleting_a_voice_deletes_the_weights_it_owns_only(make_client, clips, png, weight_files):
    client = make_client(engine=RecordingEngine())
    owned = voice_owning(client, clips, png, "tuned.pth")
    shown = client.get("/voice-models/tuned").json()["data"]["weights"]
    assert shown == {"gpt": None, "sovits": "voices/tuned/weights/tuned.pth", "owned": True, "task_id": None}
    assert client.delete("/voice-models/tuned").json()["code"] == 0
    assert not owned.exists() and not client.app.state.voice_models.private_folder("tuned").exists()
    create_model(client, clips["5s"], png, "pointed")
    client.put("/voice-models/pointed/weights", json={"gpt_path": str(weight_files["a.ckpt"])})
    assert client.delete("/voice-models/pointed").json()["code"] == 0
    assert weight_files["a.ckpt"].exists()  # pointed at, not owned


def test_replacing_owned_weights_deletes_the_old_files(make_client, clips, png, weight_files):
    client = make_client(engine=RecordingEngine())
    old = voice_owning(client, clips, png, "old.pth")
    client.put("/voice-models/tuned/weights", json={"sovits_path": str(weight_files["a.pth"])})
    assert not old.exists()
