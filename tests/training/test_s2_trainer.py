"""S2Trainer around the step: batches as the reference's loader / collate / bucket sampler make them, an exact
resume (save_state / load_state), the learning-rate schedule, and the export (process_ckpt.savee's file)
read back by this project's SoVITS loader. The tiny models and batch come from the s2 golden (v2 / v2Pro)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import s2_golden as golden
from GPT_SoVITS import versions
from GPT_SoVITS.audio.spectrogram import linear_spectrogram
from GPT_SoVITS.models.sovits.backend import load_sovits
from GPT_SoVITS.training.s2 import S2Trainer
from GPT_SoVITS.training.s2.data import BOUNDARIES, ClipItem, bucket_batches, collate
from GPT_SoVITS.weights import read_torch_checkpoint
from GPT_SoVITS.weights.torch_zip import version_tag
from GPT_SoVITS.weights.torch_zip_writer import write_torch_checkpoint

VERSION = "v2"


def _rows(version: str) -> list[ClipItem]:
    """The clips of the golden batch, unpadded (the collate sorted them longest first)."""
    b = golden.batch(version)
    return [ClipItem(b.ssl[i, :, :b.ssl_lengths[i]], b.spec[i, :, :b.spec_lengths[i]], b.y[i, 0, :b.y_lengths[i]],
                     b.text[i, :b.text_lengths[i]], None if b.sv is None else b.sv[i]) for i in range(len(b.spec))]


@pytest.mark.parametrize("version", [VERSION, "v2Pro"])
def test_collate_and_spectrogram_as_the_reference(version):
    expected = golden.batch(version)
    rows = _rows(version)
    got = collate(rows[::-1])  # any order in: the collate sorts by spectrogram length
    for field in golden.BATCH_FIELDS:
        want = getattr(expected, field)
        if want is None:
            assert getattr(got, field) is None
        else:
            np.testing.assert_array_equal(getattr(got, field), want, err_msg=field)
    d = golden.meta(version)["hps"]["data"]
    for row in rows:  # the loader's spectrogram of the clip's audio
        spec = linear_spectrogram(row.wav, d["filter_length"], d["hop_length"], d["win_length"])
        np.testing.assert_allclose(spec, row.spec, rtol=1e-5, atol=1e-4)


def test_bucket_batches_cover_every_clip_in_its_bucket():
    lengths = [40, 50, 310, 320, 330, 10, 45, 2000]  # 10 and 2000 frames fall outside the buckets
    batches = bucket_batches(lengths, batch_size=2, epoch=3)
    assert all(len(b) == 2 for b in batches)
    flat = [i for b in batches for i in b]
    assert sorted(set(flat)) == [0, 1, 2, 3, 4, 6]
    assert len(flat) == 4 + 4  # each bucket topped up to a multiple of the batch size by repeating its clips
    for b in batches:  # one bucket per batch
        assert len({next(k for k in range(len(BOUNDARIES) - 1) if BOUNDARIES[k] < lengths[i] <= BOUNDARIES[k + 1])
                    for i in b}) == 1
    assert bucket_batches(lengths, 2, 3) == batches
    assert any(bucket_batches(lengths, 2, e) != batches for e in (4, 5, 6))


def _params(trainer: S2Trainer) -> dict[str, np.ndarray]:
    cells = (("g", trainer.net_g), ("d", trainer.net_d))
    return {f"{tag}.{name}": p.asnumpy() for tag, cell in cells for name, p in cell.parameters_and_names()}


def test_resume_continues_exactly(tmp_path: Path):
    batch = golden.batch(VERSION)
    straight = golden.trainer(VERSION)
    straight.train_step(batch)
    straight.end_epoch()
    second = straight.train_step(batch)

    first = golden.trainer(VERSION)
    first.train_step(batch)
    first.end_epoch()
    first.save_state(tmp_path / "state")
    resumed = golden.trainer(VERSION)
    resumed.load_state(tmp_path / "state")
    assert (resumed.epoch, resumed.step) == (1, 1)
    again = resumed.train_step(batch)
    assert again == second
    after, expected = _params(resumed), _params(straight)
    for name, value in expected.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


def test_learning_rates_follow_the_reference_schedule():
    m = golden.meta(VERSION)
    trainer = golden.trainer(VERSION)
    assert [g.lr for g in trainer.step_fn.optim_g.groups] == pytest.approx(m["learning_rates"]["g"], rel=1e-12)
    assert trainer.step_fn.optim_d.groups[0].lr == pytest.approx(m["learning_rates"]["d"], rel=1e-12)
    trainer.end_epoch()
    decay = m["hps"]["train"]["lr_decay"]
    assert [g.lr for g in trainer.step_fn.optim_g.groups] == pytest.approx(
        [lr * decay for lr in m["learning_rates"]["g"]], rel=1e-12)


@pytest.mark.parametrize("version", [VERSION, "v2Pro"])
def test_export_is_the_web_uis_file_and_loads_for_inference(tmp_path: Path, version):
    trainer = golden.trainer(version)
    trainer.end_epoch()
    path = trainer.export(tmp_path, "voice")
    assert path == tmp_path / "voice_e1_s0.pth"
    expected_tag = versions.VERSIONS[version].tag if versions.is_pro(version) else b"PK"
    assert version_tag(path) == expected_tag
    ckpt = read_torch_checkpoint(path)
    assert ckpt["info"] == "1epoch_0iteration"
    state = {name: p.asnumpy() for name, p in trainer.net_g.parameters_and_names()}
    assert sorted(ckpt["weight"]) == sorted(k for k in state if not k.startswith("enc_q"))
    for name, value in ckpt["weight"].items():
        assert value.dtype == np.float16
        np.testing.assert_array_equal(value, state[name].astype(np.float16), err_msg=name)
    assert ckpt["config"]["model"]["version"] == version
    model = load_sovits(path)  # the inference loader: version detection, weight-norm folding, strict names
    assert model.version == version


def test_from_pretrained_reads_generator_and_discriminator_files(tmp_path: Path):
    g, d = golden.weights(VERSION, "g"), golden.weights(VERSION, "d")
    write_torch_checkpoint({"weight": g, "iteration": 1}, tmp_path / "G.pth")
    write_torch_checkpoint({"weight": d, "iteration": 1}, tmp_path / "D.pth")
    hps = golden.meta(VERSION)["hps"]
    narrow = S2Trainer.from_pretrained(tmp_path / "G.pth", tmp_path / "D.pth", VERSION, hps)  # D's widths: its file's
    assert narrow.step_fn.net_d.discriminators[0].convs[3].weight_v.shape == d["discriminators.0.convs.3.weight_v"].shape
    for name, p in narrow.net_d.parameters_and_names():
        np.testing.assert_array_equal(p.asnumpy(), d[name], err_msg=name)
    d.pop("discriminators.1.convs.4.weight_v")
    write_torch_checkpoint({"weight": d}, tmp_path / "D.pth")
    with pytest.raises(Exception, match="discriminators.1.convs.4.weight_v"):
        S2Trainer.from_pretrained(tmp_path / "G.pth", tmp_path / "D.pth", VERSION, hps)
    trainer = S2Trainer.from_pretrained(tmp_path / "G.pth", None, VERSION, hps, learning_rate=0.5,
                                        learning_rate_scale=0.1, exp_name="voice", batch_size=3)
    assert trainer.step_fn.optim_g.groups[0].lr == pytest.approx(0.05 * hps["train"]["lr_decay"])
    assert trainer.hps["name"] == "voice" and trainer.hps["train"]["batch_size"] == 3
    for name, p in trainer.net_g.parameters_and_names():
        np.testing.assert_array_equal(p.asnumpy(), g[name], err_msg=name)


def test_an_inference_export_starts_a_fine_tune_with_a_fresh_enc_q(tmp_path: Path, caplog):
    """A web UI export has no enc_q: the reference loads it with strict=False, so enc_q starts from torch's
    default init (v, bias ~ U(+-1/sqrt(fan_in)), g = ||v||) and the rest is the file's; a warning says so."""
    g = golden.weights(VERSION, "g")
    export = {name: value for name, value in g.items() if not name.startswith("enc_q.")}
    write_torch_checkpoint({"weight": export}, tmp_path / "export.pth")
    with caplog.at_level("WARNING"):
        trainer = S2Trainer.from_pretrained(tmp_path / "export.pth", None, VERSION, golden.meta(VERSION)["hps"])
    assert "enc_q" in caplog.text and "from scratch" in caplog.text
    params = {name: p.asnumpy() for name, p in trainer.net_g.parameters_and_names()}
    posterior = sorted(name for name in params if name.startswith("enc_q."))
    assert posterior == sorted(name for name in g if name.startswith("enc_q."))
    for name, value in export.items():
        np.testing.assert_array_equal(params[name], value, err_msg=name)
    for name in posterior:
        value = params[name]
        assert np.isfinite(value).all() and np.abs(value).max() > 0, name
        if name.endswith(".weight_v"):
            bound = 1 / np.sqrt(np.prod(value.shape[1:]))
            assert np.abs(value).max() <= bound, name
            norm = np.sqrt((value.astype(np.float64) ** 2).reshape(len(value), -1).sum(1))
            g_name = name[:-1] + "g"
            np.testing.assert_allclose(params[g_name].reshape(-1), norm, rtol=1e-6, err_msg=g_name)
            np.testing.assert_allclose(params[name[:-len("weight_v")] + "bias"], 0, atol=bound)


def test_a_generator_lacking_more_than_enc_q_is_still_refused(tmp_path: Path):
    from GPT_SoVITS.weights import WeightLoadError

    g = {name: value for name, value in golden.weights(VERSION, "g").items()
         if not name.startswith(("enc_q.", "dec.conv_post."))}
    write_torch_checkpoint({"weight": g}, tmp_path / "broken.pth")
    with pytest.raises(WeightLoadError, match="missing.*dec.conv_post"):
        S2Trainer.from_pretrained(tmp_path / "broken.pth", None, VERSION, golden.meta(VERSION)["hps"])
    g = {**golden.weights(VERSION, "g"), "enc_q.extra.weight": np.zeros(3, np.float32)}
    write_torch_checkpoint({"weight": g}, tmp_path / "extra.pth")
    with pytest.raises(WeightLoadError, match="unexpected.*enc_q.extra"):
        S2Trainer.from_pretrained(tmp_path / "extra.pth", None, VERSION, golden.meta(VERSION)["hps"])


class _Clip:
    def __init__(self, name: str, seconds: float):
        self.name, self.seconds = name, seconds


class _Prepared:
    """A stand-in for PreparedDataset: `version`, `clips` (records with name and seconds) and `load`."""

    def __init__(self, version: str, seconds: list[float], rate: int, hop: int):
        self.version = version
        self.clips = [_Clip(f"clip{i}", s) for i, s in enumerate(seconds)]
        rng = np.random.default_rng(0)
        self._arrays = {}
        for clip in self.clips:
            n = int(round(clip.seconds * rate))
            self._arrays[clip.name] = {"audio32k": rng.uniform(-0.3, 0.3, n).astype(np.float32),
                                       "ssl": rng.standard_normal((768, n // hop)).astype(np.float32),
                                       "phones": rng.integers(1, 300, 12), "sv": np.zeros(20480, np.float32)}

    def load(self, name: str) -> dict[str, np.ndarray]:
        return self._arrays[name]


def test_batches_from_a_prepared_folder():
    trainer = golden.trainer(VERSION)
    d = trainer.hps["data"]
    data = _Prepared(VERSION, [1.0, 1.2, 0.5, 1.5], d["sampling_rate"], d["hop_length"])  # 0.5 s is too short
    batches = list(trainer.batches(data, batch_size=2, epoch=0))
    # 4 clips repeated max(2, 100 // 4) = 25 times, the 0.5 s one dropped: 75 in one bucket (32-300 frames),
    # topped up to 76, 38 batches
    assert len(batches) == 38
    first = batches[0]
    assert first.spec.shape[0] == 2 and first.ssl.shape[-1] == first.spec.shape[-1]
    assert (first.spec_lengths[0] >= first.spec_lengths[1]) and first.sv is None
    assert {int(n) for b in batches for n in b.spec_lengths} <= {50, 60, 75}


def test_dropout_masks_replay_within_a_step_and_stay_off_without_a_seed():
    """Both generator passes of a step must drop the same units: one seed gives one output."""
    from dataclasses import replace

    from GPT_SoVITS.training.s2.step import tensors

    trainer = golden.trainer(VERSION)
    step, t = trainer.step_fn, tensors(golden.batch(VERSION))
    off = golden.draws(VERSION)
    assert trainer.hps["model"]["p_dropout"] > 0
    base = step.generate(t, off).y_hat.asnumpy()
    a = step.generate(t, replace(off, dropout_seed=5)).y_hat.asnumpy()
    np.testing.assert_array_equal(a, step.generate(t, replace(off, dropout_seed=5)).y_hat.asnumpy())
    assert np.abs(a - base).max() > 1e-4
    assert np.abs(a - step.generate(t, replace(off, dropout_seed=6)).y_hat.asnumpy()).max() > 1e-4
    np.testing.assert_array_equal(base, step.generate(t, off).y_hat.asnumpy())
