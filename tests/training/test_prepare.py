"""Dataset preparation on real clips (espeak-ng, sox) with the golden tiny models: the prepared arrays
equal what the inference path computes, the loudness scaling is 2-get-hubert-wav32k.py's formula, and
unusable clips are errors naming them."""
from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from golden_data import model_file
from support.required import need_tool

pytestmark = pytest.mark.slow

ZH_TEXT = "今天天气很好，我们一起去公园散步吧。"
EN_TEXT = "Hello, how are you today? This is a test."


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Real speech (espeak-ng) and clips that must be refused (sox)."""
    espeak, sox = need_tool("espeak-ng"), need_tool("sox")
    folder = tmp_path_factory.mktemp("clips")
    subprocess.run([espeak, "-v", "cmn", "-w", str(folder / "zh.wav"), ZH_TEXT], check=True)
    subprocess.run([espeak, "-v", "en", "-w", str(folder / "en.wav"), EN_TEXT], check=True)
    synth = [sox, "-n", "-r", "32000", "-c", "1", "-b", "16"]
    subprocess.run([*synth, str(folder / "short.wav"), "synth", "0.4", "sine", "300", "vol", "0.5"], check=True)
    subprocess.run([*synth, str(folder / "long.wav"), "synth", "55", "sine", "300", "vol", "0.5"], check=True)
    subprocess.run([*synth, str(folder / "silent.wav"), "trim", "0", "2"], check=True)
    subprocess.run([sox, str(folder / "zh.wav"), str(folder / "clipped.wav"), "gain", "30"], check=True,
                   capture_output=True)  # sox warns that it clipped: that is the point
    return folder


@pytest.fixture(scope="module")
def models():
    from GPT_SoVITS.training.prepare import load_prep_models

    return load_prep_models("v2", str(model_file("sovits/v2/model.pth")),
                            str(model_file("hubert/chinese-hubert-base/pytorch_model.bin").parent),
                            str(model_file("bert/chinese-roberta-wwm-ext-large/pytorch_model.bin").parent), None)


def write_list(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loudness_scaling_is_the_reference_formula(clips):
    import librosa

    from GPT_SoVITS.training.prepare.audio import load_clip, loudness_scale

    audio = load_clip(clips / "zh.wav", "zh.wav")
    scaled = loudness_scale(audio, "zh.wav")
    # 2-get-hubert-wav32k.py, maxx = 0.95, alpha = 0.5, in the reference's float32 numpy
    tmp_max = np.abs(audio).max()
    tmp_audio32 = (audio / tmp_max * (0.95 * 0.5 * 32768)) + ((1 - 0.5) * 32768) * audio
    tmp_audio32b = (audio / tmp_max * (0.95 * 0.5 * 1145.14)) + ((1 - 0.5) * 1145.14) * audio
    np.testing.assert_array_equal(scaled.audio32k, tmp_audio32.astype("int16").astype(np.float32) / 32768)
    np.testing.assert_array_equal(scaled.ssl_input16k, librosa.resample(tmp_audio32b, orig_sr=32000, target_sr=16000))
    assert scaled.audio32k.dtype == scaled.ssl_input16k.dtype == np.float32


def test_the_reference_skips_peaks_over_2_2():
    from GPT_SoVITS.training.prepare import ClipError
    from GPT_SoVITS.training.prepare.audio import loudness_scale

    loud = np.full(32000, 0.5, np.float32)
    loud[100] = 2.3
    with pytest.raises(ClipError, match="loud.wav"):
        loudness_scale(loud, "loud.wav")
    loud[100] = 2.1
    loudness_scale(loud, "loud.wav")


def test_list_languages_map_as_1_get_text(tmp_path):
    from GPT_SoVITS.training.prepare import read_list

    listed = write_list(tmp_path / "a.list", [
        "/x/a.wav|spk|ZH|你好。", "/x/b.wav|spk|JP|こんにちは。", "/x/c.wav|spk|en|Hi there.",
        "/x/d.wav|spk|KO|안녕하세요.", "/x/e.wav|spk|FR|Bonjour.", "/x/f.wav|spk|zh", "/y/a.wav|spk|zh|又一个。",
        "/x/g.wav|spk|EN|  "])
    entries, errors = read_list(listed, wav_dir=tmp_path)
    assert [(e.name, e.language, e.path) for e in entries] == [
        ("a.wav", "zh", tmp_path / "a.wav"), ("b.wav", "ja", tmp_path / "b.wav"), ("c.wav", "en", tmp_path / "c.wav")]
    messages = [str(e) for e in errors]
    assert [e.clip for e in errors] == ["d.wav", "e.wav", "line 6", "a.wav", "g.wav"]
    assert "KO" in messages[0] and "FR" in messages[1] and "3 fields" in messages[2] and "line 1" in messages[3]


def test_prepared_clips_equal_the_inference_path(clips, models, tmp_path):
    from GPT_SoVITS.pipeline.text_features import text_features
    from GPT_SoVITS.training.prepare import prepare_dataset, read_list
    from GPT_SoVITS.training.prepare.audio import load_clip, loudness_scale
    from GPT_SoVITS.training.prepared import PreparedDataset

    listed = write_list(tmp_path / "a.list", [f"{clips / 'zh.wav'}|spk|ZH|{ZH_TEXT}", f"{clips / 'en.wav'}|spk|EN|{EN_TEXT}"])
    entries, errors = read_list(listed)
    report = prepare_dataset(entries, tmp_path / "prepared", "v2", lambda: models)
    assert not errors and not report.errors and report.prepared == ["zh.wav", "en.wav"]
    data = PreparedDataset(tmp_path / "prepared")
    assert data.version == "v2" and [c.name for c in data.clips] == ["zh.wav", "en.wav"]
    inference = SimpleNamespace(bert=models.bert)  # text_features reads only the BERT back end
    for record, mode in zip(data.clips, ("all_zh", "en")):
        arrays = data.load(record.name)
        expected = text_features(inference, record.text, mode, "v2")
        np.testing.assert_array_equal(arrays["phones"], expected.phone_ids)
        np.testing.assert_array_equal(arrays["bert"], expected.bert)
        assert record.norm_text == expected.norm_text and arrays["bert"].shape == (1024, len(expected.phone_ids))
        scaled = loudness_scale(load_clip(clips / record.name, record.name), record.name)
        np.testing.assert_array_equal(arrays["audio32k"], scaled.audio32k)
        assert record.seconds == pytest.approx(scaled.audio32k.shape[0] / 32000, abs=1e-3)
        # HuBERT on the scaled 16 kHz audio, unpadded; the codes through the acoustic back end's quantizer
        content = models.hubert.content(scaled.ssl_input16k)
        np.testing.assert_array_equal(arrays["ssl"], content.asnumpy()[0])
        np.testing.assert_array_equal(arrays["codes"], models.sovits.prompt_codes(content))
        assert arrays["ssl"].shape[0] == 768 and arrays["codes"].shape == (arrays["ssl"].shape[1] // 2,)
        assert abs(arrays["ssl"].shape[1] - arrays["audio32k"].shape[0] // 640) < 3  # s2 loader's assertion
        assert {k: v.dtype for k, v in arrays.items()} == {
            "phones": np.int64, "word2ph": np.int64, "bert": np.float32, "audio32k": np.float32,
            "ssl": np.float32, "codes": np.int64}
    zh = data.load("zh.wav")
    assert zh["word2ph"].sum() == zh["phones"].shape[0] and zh["bert"].any()
    assert not data.load("en.wav")["bert"].any()  # zeros for non-Chinese, as the reference's loaders

    def no_models():
        raise AssertionError("every clip is prepared already: no model may load")

    again = prepare_dataset(entries, tmp_path / "prepared", "v2", no_models)
    assert again.reused == ["zh.wav", "en.wav"] and not again.prepared


def test_unusable_clips_are_errors_naming_them(clips, models, tmp_path):
    from GPT_SoVITS.training.prepare import prepare_dataset, read_list
    from GPT_SoVITS.training.prepared import PreparedDataset

    listed = write_list(tmp_path / "bad.list", [
        f"{clips / 'short.wav'}|spk|ZH|{ZH_TEXT}", f"{clips / 'long.wav'}|spk|ZH|{ZH_TEXT}",
        f"{clips / 'silent.wav'}|spk|ZH|{ZH_TEXT}", f"{clips / 'clipped.wav'}|spk|ZH|{ZH_TEXT}",
        f"{clips / 'en.wav'}|spk|ZH|{EN_TEXT}", f"{clips / 'missing.wav'}|spk|ZH|{ZH_TEXT}",
        f"{clips / 'zh.wav'}|spk|ZH|{ZH_TEXT}"])
    entries, errors = read_list(listed)
    report = prepare_dataset(entries, tmp_path / "prepared", "v2", lambda: models)
    assert not errors and report.prepared == ["zh.wav"]
    why = {error.clip: str(error) for error in report.errors}
    assert set(why) == {"short.wav", "long.wav", "silent.wav", "clipped.wav", "en.wav", "missing.wav"}
    assert "too short" in why["short.wav"] and "too long" in why["long.wav"] and "silent" in why["silent.wav"]
    assert "clipped" in why["clipped.wav"] and "labelled Chinese" in why["en.wav"]
    assert "does not open" in why["missing.wav"]
    assert all(name in message and "片段" in message for name, message in why.items())
    assert [c.name for c in PreparedDataset(tmp_path / "prepared").clips] == ["zh.wav"]


def test_pro_versions_store_the_speaker_embedding_of_the_stored_audio(clips, tmp_path):
    from GPT_SoVITS.training.prepare import ListEntry, load_prep_models, prepare_clip

    models = load_prep_models("v2Pro", str(model_file("sovits/v2Pro/model.pth")),
                              str(model_file("hubert/chinese-hubert-base/pytorch_model.bin").parent),
                              str(model_file("bert/chinese-roberta-wwm-ext-large/pytorch_model.bin").parent),
                              str(model_file("sv_tiny/pretrained_eres2netv2w24s4ep4.ckpt")))
    _, arrays = prepare_clip(models, ListEntry("zh.wav", clips / "zh.wav", "spk", "zh", ZH_TEXT))
    # 2-get-sv.py reads the clip back from 5-wav32k: the loudness-scaled int16 audio
    expected = models.speaker.embedding(arrays["audio32k"], 32000)
    assert arrays["sv"].dtype == np.float32 and arrays["sv"].shape == expected.shape == (models.speaker.dims.embedding_dim,)
    np.testing.assert_array_equal(arrays["sv"], expected)


def test_command_prepares_with_the_models_it_is_given(clips, tmp_path, capsys):
    from GPT_SoVITS.finetune.cli import main
    from GPT_SoVITS.training.prepared import PreparedDataset

    listed = write_list(tmp_path / "a.list", [f"{clips / 'zh.wav'}|spk|ZH|{ZH_TEXT}"])
    weights = ["--pretrained-s2G", str(model_file("sovits/v2/model.pth")),
               "--cnhubert-base-path", str(model_file("hubert/chinese-hubert-base/pytorch_model.bin").parent),
               "--bert-path", str(model_file("bert/chinese-roberta-wwm-ext-large/pytorch_model.bin").parent)]
    args = ["--list", str(listed), "--out", str(tmp_path / "out"), "--prepare-only", *weights]
    assert main(args) == 0
    assert "prepared 1 clips, 0 already prepared" in capsys.readouterr().err
    assert [c.name for c in PreparedDataset(tmp_path / "out" / "prepared").clips] == ["zh.wav"]
    assert main(args) == 0
    assert "prepared 0 clips, 1 already prepared" in capsys.readouterr().err
    # a generator of another version than --version is refused before anything is prepared
    assert main(["--list", str(listed), "--out", str(tmp_path / "pro"), "--prepare-only", "--version", "v2Pro",
                 *weights, "--sv-path", str(model_file("sv_tiny/pretrained_eres2netv2w24s4ep4.ckpt"))]) == 1
    assert "is v2, not v2Pro" in capsys.readouterr().err
    # a missing weight file is named with the flag that sets it
    assert main(["--list", str(listed), "--out", str(tmp_path / "none"), "--prepare-only", *weights,
                 "--bert-path", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "nowhere") in err and "--bert-path" in err
