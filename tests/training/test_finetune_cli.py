"""`python -m GPT_SoVITS.finetune` with stand-in trainers (tests/support/finetune_double.py): s2 then s1
through the Trainer protocol only, metrics.jsonl, exports, saved states, and resume (in-process, and
after kill -9 of a real process)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.finetune_double import EVENTS, DoubleTrainer, register, write_prepared

REPO = Path(__file__).resolve().parents[2]
CLIPS = 5


@pytest.fixture
def doubles(monkeypatch):
    from GPT_SoVITS.finetune import trainers

    monkeypatch.setattr(trainers, "FACTORIES", dict(trainers.FACTORIES))
    register()


def setup(tmp_path: Path, name: str = "run") -> tuple[Path, Path]:
    out, listed = tmp_path / name, tmp_path / f"{name}.list"
    write_prepared(out, listed, CLIPS)
    return out, listed


def flags(out: Path, listed: Path, *more: str) -> list[str]:
    return ["--list", str(listed), "--out", str(out), "--name", "voice", "--batch-size", "2", *more]


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def events(out: Path) -> list[dict]:
    path = out / EVENTS
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def replay(model: str, out: Path, epochs: int, batch_size: int = 2) -> list[dict]:
    """The metrics an uninterrupted run of the double gives, computed here without the command."""
    from GPT_SoVITS.training.prepared import PreparedDataset

    data, trainer, lines = PreparedDataset(out / "prepared"), DoubleTrainer(model, out, 1234), []
    for epoch in range(epochs):
        for batch in trainer.batches(data, batch_size, epoch):
            lines.append({"model": model, "epoch": epoch + 1, "step": trainer.step + 1, **trainer.train_step(batch)})
        trainer.end_epoch()
    return lines


def test_the_stand_in_satisfies_the_protocol(tmp_path):
    from GPT_SoVITS.training.trainer import Trainer

    assert isinstance(DoubleTrainer("s2", tmp_path, 1), Trainer)


def test_trains_sovits_then_gpt_through_the_protocol(doubles, tmp_path, capsys):
    from GPT_SoVITS.finetune.cli import main

    out, listed = setup(tmp_path)
    assert main(flags(out, listed, "--sovits-epochs", "3", "--gpt-epochs", "2", "--sovits-save-every-epoch", "2",
                      "--gpt-save-every-epoch", "1")) == 0
    # 5 clips in batches of 2: 3 steps an epoch; one line per step, s2 first, the loss and its terms
    assert metrics(out) == replay("s2", out, 3) + replay("s1", out, 2)
    assert [(m["model"], m["step"]) for m in metrics(out)] == [("s2", s) for s in range(1, 10)] + [("s1", s) for s in range(1, 7)]
    exported = ["sovits/voice_e2_s6.pth", "sovits/voice_e3_s9.pth", "gpt/voice-e1.ckpt", "gpt/voice-e2.ckpt"]
    assert sorted(str(p.relative_to(out)) for p in out.glob("*/*.*") if p.parent.name in ("sovits", "gpt")) == sorted(exported)
    assert capsys.readouterr().out.split() == [str(out / p) for p in exported]
    for model, (epoch, step) in (("s2", (3, 9)), ("s1", (2, 6))):
        progress = json.loads((out / "state" / model / "progress.json").read_text())
        assert progress == {"epoch": epoch, "step": step, "batches_done": 0}
        assert json.loads((out / "state" / model / "double.json").read_text())["step"] == step
    assert sorted(p.name for p in (out / "state").iterdir()) == ["s1", "s2"]  # only the latest kept


def test_exports_at_the_end_only_and_every_state_kept_when_asked(doubles, tmp_path):
    from GPT_SoVITS.finetune.cli import main

    out, listed = setup(tmp_path)
    assert main(flags(out, listed, "--sovits-epochs", "3", "--gpt-epochs", "0", "--sovits-save-every-epoch", "1",
                      "--no-if-save-every-weights", "--no-if-save-latest")) == 0
    assert [p.name for p in (out / "sovits").iterdir()] == ["voice_e3_s9.pth"]
    assert not (out / "gpt").exists()
    assert sorted(p.name for p in (out / "state").iterdir()) == ["s2", "s2-e1-s3", "s2-e2-s6"]


def test_the_same_command_with_more_epochs_goes_on(doubles, tmp_path):
    from GPT_SoVITS.finetune.cli import main

    out, listed = setup(tmp_path)
    assert main(flags(out, listed, "--sovits-epochs", "2", "--gpt-epochs", "0")) == 0
    assert main(flags(out, listed, "--sovits-epochs", "4", "--gpt-epochs", "0")) == 0
    assert [e for e in events(out) if "loaded_step" in e] == [{"model": "s2", "loaded_step": 6, "loaded_epoch": 2}]
    assert metrics(out) == replay("s2", out, 4)


def test_unusable_clips_stop_the_command_before_training(doubles, tmp_path, capsys):
    from GPT_SoVITS.finetune import trainers
    from GPT_SoVITS.finetune.cli import main

    out, listed = setup(tmp_path)
    with open(listed, "a", encoding="utf-8") as stream:
        stream.write(f"{tmp_path / 'odd.wav'}|spk|FR|Bonjour.\n")
    trainers.FACTORIES["s2"] = trainers.FACTORIES["s1"] = lambda *_: pytest.fail("no training with bad clips")
    assert main(flags(out, listed)) == 1
    assert "odd.wav" in capsys.readouterr().err
    register()
    assert main(flags(out, listed, "--skip-bad-clips", "--sovits-epochs", "1", "--gpt-epochs", "1")) == 0
    assert "skipped: " in capsys.readouterr().err


def test_weight_paths_default_as_the_service(monkeypatch, tmp_path):
    from GPT_SoVITS.finetune.options import parse_options

    generator = tmp_path / "s2G2333k.pth"
    generator.write_bytes(b"")
    (tmp_path / "s2D2333k.pth").write_bytes(b"")
    monkeypatch.setenv("cnhubert_base_path", "/models/hubert")
    monkeypatch.setenv("bert_path", "/models/bert")
    monkeypatch.setenv("sv_path", "/models/sv.ckpt")
    monkeypatch.setenv("sovits_path", "/served/sovits.pth")  # what the service serves: not a starting point
    monkeypatch.setenv("gpt_path", "/served/gpt.ckpt")
    options = parse_options(["--list", "a.list", "--out", str(tmp_path / "out"), "--pretrained-s2G", str(generator)])
    assert (options.cnhubert_base_path, options.bert_path) == (Path("/models/hubert"), Path("/models/bert"))
    assert options.pretrained_s2D == tmp_path / "s2D2333k.pth" and options.sv_path is None  # v2 needs no SV
    assert options.name == "out" and options.gpt_batch_size == options.batch_size
    pro = parse_options(["--list", "a.list", "--out", "o", "--version", "v2Pro", "--bert-path", "/b"])
    assert pro.sv_path == Path("/models/sv.ckpt") and pro.bert_path == Path("/b")
    assert pro.pretrained_s2G == REPO / "GPT_SoVITS/pretrained_models/v2Pro/s2Gv2Pro.pth" and pro.pretrained_s2D is None
    assert pro.pretrained_s1 == REPO / "GPT_SoVITS/pretrained_models/s1v3.ckpt"


def run_double(out: Path, listed: Path, more: list[str], stop_at: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    env.pop("FINETUNE_DOUBLE_STOP_AT", None)
    if stop_at:
        env["FINETUNE_DOUBLE_STOP_AT"] = stop_at
    return subprocess.Popen([sys.executable, "-m", "support.finetune_double", *flags(out, listed, *more)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(path: Path, process: subprocess.Popen, deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"the command ended ({process.returncode}) before {path.name}: {process.stderr.read()!r}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no {path.name} within {deadline_s} s")
        time.sleep(0.05)


def test_kill_9_resumes_from_the_last_saved_step(tmp_path):
    out, listed = setup(tmp_path, "killed")
    more = ["--sovits-epochs", "3", "--gpt-epochs", "2", "--save-every-steps", "2"]
    process = run_double(out, listed, more, stop_at="s2:6")  # steps 2 and 4 saved, 5 logged; 6 in flight
    wait_for(out / "stopped", process)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    assert [m["step"] for m in metrics(out)] == [1, 2, 3, 4, 5]
    done = run_double(out, listed, more)
    _, err = done.communicate(timeout=300)
    assert done.returncode == 0, err.decode()
    assert [e for e in events(out) if "loaded_step" in e] == [{"model": "s2", "loaded_step": 4, "loaded_epoch": 1}]
    # ...and it ends exactly where an uninterrupted run ends
    clean, clean_list = setup(tmp_path, "clean")
    whole = run_double(clean, clean_list, more)
    _, err = whole.communicate(timeout=300)
    assert whole.returncode == 0, err.decode()
    assert metrics(out) == metrics(clean)
    for file in ("sovits/voice_e3_s9.pth", "gpt/voice-e2.ckpt"):
        assert (out / file).read_text() == (clean / file).read_text()


def test_real_trainers_are_built_from_the_options(monkeypatch, tmp_path):
    """The factories import the training packages only when called, and hand them the options (stand-in
    modules here: what is checked is the wiring, not the trainers)."""
    import types

    from GPT_SoVITS.finetune import trainers
    from GPT_SoVITS.finetune.errors import FinetuneError
    from GPT_SoVITS.finetune.options import parse_options

    calls = {}

    def recorder(model):
        return classmethod(lambda cls, *args, **kwargs: calls.setdefault(model, (args, kwargs)))

    s1 = types.ModuleType("GPT_SoVITS.training.s1")
    s1.S1Trainer = type("S1Trainer", (), {"from_pretrained": recorder("s1")})
    s1_config = types.ModuleType("GPT_SoVITS.training.s1.config")
    s1_config.training_config = lambda: {"optimizer": {"lr": 0.01, "lr_init": 1e-5, "lr_end": 1e-4}}
    s2 = types.ModuleType("GPT_SoVITS.training.s2")
    s2.S2Trainer = type("S2Trainer", (), {"from_pretrained": recorder("s2")})
    for name, module in (("s1", s1), ("s1.config", s1_config), ("s2", s2)):
        monkeypatch.setitem(sys.modules, f"GPT_SoVITS.training.{name}", module)
    from GPT_SoVITS import runtime

    # the device is set up before each trainer is built (a resume over a prepared folder loads no
    # preparation model, which used to be the only place that configured it)
    monkeypatch.setattr(runtime, "configure", lambda target: calls.setdefault("configured", []).append(target))
    gpt, generator = tmp_path / "gpt.ckpt", tmp_path / "s2G.pth"
    options = parse_options(["--list", "a.list", "--out", str(tmp_path / "voice"), "--pretrained-s1", str(gpt),
                             "--pretrained-s2G", str(generator), "--batch-size", "3", "--gpt-batch-size", "5",
                             "--sovits-epochs", "7", "--gpt-epochs", "9", "--learning-rate-scale", "0.5",
                             "--text-low-lr-rate", "0.3", "--seed", "7", "--device-target", "CPU"])
    with pytest.raises(FinetuneError, match="--pretrained-s1"):
        trainers.FACTORIES["s1"](options, None)
    gpt.write_bytes(b"")
    generator.write_bytes(b"")
    trainers.FACTORIES["s1"](options, None)
    trainers.FACTORIES["s2"](options, None)
    assert calls["configured"] == ["CPU", "CPU"]
    args, kwargs = calls["s1"]
    assert args == (gpt, {"optimizer": {"lr": 0.005, "lr_init": 5e-6, "lr_end": 5e-5}})
    assert kwargs == {"batch_size": 5, "epochs": 9, "exp_name": "voice", "if_dpo": False, "seed": 7}
    args, kwargs = calls["s2"]
    assert args == (generator, None, "v2", None)
    assert kwargs == {"batch_size": 3, "epochs": 7, "text_low_lr_rate": 0.3, "exp_name": "voice", "seed": 7,
                      "learning_rate_scale": 0.5}


def test_if_dpo_reaches_the_gpt_trainer(monkeypatch, tmp_path):
    """`--if-dpo` (off by default, as the reference's web UI) is handed to `S1Trainer.from_pretrained`."""
    import types

    from GPT_SoVITS.finetune import trainers
    from GPT_SoVITS.finetune.options import parse_options

    calls = []
    s1 = types.ModuleType("GPT_SoVITS.training.s1")
    s1.S1Trainer = type("S1Trainer", (), {"from_pretrained": classmethod(lambda cls, *a, **kw: calls.append(kw))})
    s1_config = types.ModuleType("GPT_SoVITS.training.s1.config")
    s1_config.training_config = lambda: {"optimizer": {"lr": 0.01, "lr_init": 1e-5, "lr_end": 1e-4}}
    for name, module in (("s1", s1), ("s1.config", s1_config)):
        monkeypatch.setitem(sys.modules, f"GPT_SoVITS.training.{name}", module)
    from GPT_SoVITS import runtime

    monkeypatch.setattr(runtime, "configure", lambda target: None)
    gpt = tmp_path / "gpt.ckpt"
    gpt.write_bytes(b"")
    base = ["--list", "a.list", "--out", str(tmp_path / "voice"), "--pretrained-s1", str(gpt)]
    for extra in ([], ["--if-dpo"]):
        trainers.FACTORIES["s1"](parse_options(base + extra), None)
    assert [kw["if_dpo"] for kw in calls] == [False, True]


def test_preparation_gives_turns_between_clips_and_stops_there_on_a_cancel(doubles, tmp_path):
    """The service's fine-tune gives the models to syntheses (and sees a cancel) between two clips of the
    preparation too, not only between training steps: a large set's preparation is minutes of HuBERT/BERT."""
    from GPT_SoVITS.finetune.cli import run
    from GPT_SoVITS.finetune.loop import Hooks
    from GPT_SoVITS.finetune.options import parse_options

    out, listed = setup(tmp_path)
    stages: list[str] = []
    turns: list[str] = []

    class Cancelled(Exception):
        pass

    def between_steps() -> None:
        turns.append(stages[-1])
        if len(turns) == 2:
            raise Cancelled

    options = parse_options(flags(out, listed, "--sovits-epochs", "1", "--gpt-epochs", "1"))
    with pytest.raises(Cancelled):
        run(options, Hooks(stage=stages.append, between_steps=between_steps))
    assert turns == ["prepare", "prepare"] and not (out / "metrics.jsonl").exists()
    turns.clear()
    stages.clear()
    run(options, Hooks(stage=stages.append, between_steps=lambda: turns.append(stages[-1])))
    assert turns[:CLIPS - 1] == ["prepare"] * (CLIPS - 1) and "s2" in turns and "s1" in turns
