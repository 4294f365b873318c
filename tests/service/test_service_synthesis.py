"""/synthesize and /set_model: the clear error without weights, and the request -> options path
with a stand-in engine (the real pipeline is tested in its own suite)."""
from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from service_helpers import assert_envelope, create_model
from support.engine_double import EngineDouble

from GPT_SoVITS.pipeline import BusyError, InputError, SynthesisOptions, WeightsMissingError
from tts_service.engine import Engine
from tts_service.schemas import SynthesisRequest
from tts_service.settings import Settings


class FakeEngine(EngineDouble):
    """Records the options it is given and answers a short tone."""

    def __init__(self, error: Exception | None = None):
        self.calls: list[SynthesisOptions] = []
        self.error = error

    def synthesize(self, options, on_progress=None, should_cancel=None):
        self.calls.append(options)
        if self.error:
            raise self.error
        return 32000, (np.sin(np.arange(3200) / 5) * 20000).astype(np.int16)


def test_no_weights_names_files_and_flags(client, data_dir, clips, png):
    create_model(client, clips["5s"], png, "m1")
    body = assert_envelope(client.post("/synthesize", json={"model_id": "m1", "text": "你好"}), 1, 503)
    for name in ("s2G2333k.pth", "chinese-hubert-base", "--gpt-path", "bert_path"):
        assert name in body["message"]
    assert str(data_dir) not in body["message"]


def test_engine_without_weights_raises_weights_missing(tmp_path):
    engine = Engine(Settings(data_dir=tmp_path, gpt_path=str(tmp_path / "none.ckpt")))
    with pytest.raises(WeightsMissingError, match="none.ckpt"):
        engine.synthesize(SynthesisOptions(ref_wav_path="x.wav", text="hi"))
    assert engine.status()["state"] == "missing"


def test_engine_status_says_which_weights_every_version_needs(tmp_path):
    weights = Engine(Settings(data_dir=tmp_path)).status()["weights"]
    assert {field: entry["needed"] for field, entry in weights.items()} == {
        "gpt_path": True, "sovits_path": True, "cnhubert_base_path": True, "bert_path": True, "sv_path": False}


def test_a_pro_model_without_its_verifier_is_named_with_the_services_flag(tmp_path):
    """The SoVITS file says it needs the speaker verifier only once read; the message then names the path
    it was looked for (shown relative) and the flag that sets it, like the others."""
    from golden_data import model_file, model_meta, model_subdirs

    from GPT_SoVITS.versions import PRO

    pro = model_subdirs("sovits", only=set(PRO))[0]
    folder = lambda group, name: str(model_file(f"{group}/{name}/config.json").parent)  # noqa: E731
    sv = tmp_path / "sv" / "absent-verifier.ckpt"
    engine = Engine(Settings(
        data_dir=tmp_path, gpt_path=str(model_file("gpt/v2/model.ckpt")),
        sovits_path=str(model_file(f"sovits/{pro}/{model_meta(f'sovits/{pro}')['checkpoint']}")),
        cnhubert_base_path=folder("hubert", "chinese-hubert-base"),
        bert_path=folder("bert", "chinese-roberta-wwm-ext-large"), sv_path=str(sv)))
    with pytest.raises(WeightsMissingError) as caught:
        engine.synthesize(SynthesisOptions(ref_wav_path="x.wav", text="hi"))
    message = str(caught.value)
    assert "sv/absent-verifier.ckpt" in message and "--sv-path" in message and str(tmp_path) not in message


def test_model_fills_clip_prompt_and_language(make_client, clips, png):
    engine = FakeEngine()
    client = make_client(engine=engine)
    create_model(client, clips["5s"], png, "m1", prompt_text="Hello there.", prompt_language="en")
    response = client.post("/synthesize", json={"model_id": "m1", "text": "你好", "ref_free": "false", "seed": 7})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    rate, samples = sf.read(io.BytesIO(response.content), dtype="int16")[::-1]
    assert rate == 32000 and samples.shape == (3200,)
    saved = client.get(response.headers["x-output-url"])
    assert saved.status_code == 200 and saved.content == response.content
    options = engine.calls[0]
    assert options.ref_wav_path.endswith("audio/m1/refer.wav")
    assert (options.prompt_text, options.prompt_language, options.ref_free, options.seed) == ("Hello there.", "en", False, 7)
    defaults = SynthesisOptions(ref_wav_path="", text="")
    assert (options.sampling, options.how_to_cut) == (defaults.sampling, defaults.how_to_cut)
    # explicit fields win over the model's
    client.post("/synthesize", json={"model_id": "m1", "text": "hi", "prompt_text": "别的", "prompt_language": "all_zh"})
    assert (engine.calls[1].prompt_text, engine.calls[1].prompt_language) == ("别的", "all_zh")
    # two calls in the same second keep two files
    second = client.post("/synthesize", json={"model_id": "m1", "text": "你好"})
    assert second.headers["x-output-url"] != response.headers["x-output-url"]


@pytest.mark.parametrize("payload,code,status", [
    ({"text": "你好"}, 3, 400),  # no clip, no model
    ({"model_id": "ghost", "text": "你好"}, 2, 404),
    ({"model_id": "../x", "text": "你好"}, 3, 400),
    ({"model_id": "m1"}, 3, 400),  # no text
    ({"model_id": "m1", "text": "   "}, 3, 400),
    ({"model_id": "m1", "text": "x" * 201}, 3, 400),  # over max_text_chars
    ({"model_id": "m1", "text": "hi", "text_language": "klingon"}, 3, 400),
    ({"model_id": "m1", "text": "hi", "how_to_cut": "cut9"}, 3, 400),
    ({"model_id": "m1", "text": "hi", "top_k": "abc"}, 3, 422),
    ({"model_id": "m1", "text": "hi", "top_k": None}, 3, 422),
    ({"model_id": "m1", "text": "hi", "top_p": 5}, 3, 422),
    ({"model_id": "m1", "text": "hi", "ref_free": "maybe"}, 3, 422),
    ({"ref_wav_path": "/etc/passwd", "text": "hi"}, 3, 400),
    ({"ref_wav_path": "audio/../voice_models.json", "text": "hi"}, 3, 400),
    ({"ref_wav_path": "audio/m1/missing.wav", "text": "hi"}, 3, 400),
])
def test_bad_requests_never_reach_the_engine(make_client, clips, png, payload, code, status):
    engine = FakeEngine()
    client = make_client(engine=engine, max_text_chars=200)
    create_model(client, clips["5s"], png, "m1")
    assert_envelope(client.post("/synthesize", json=payload), code, status)
    assert engine.calls == []


def test_ref_path_inside_audio_is_accepted(make_client, clips, png):
    engine = FakeEngine()
    client = make_client(engine=engine)
    create_model(client, clips["5s"], png, "m1")
    assert client.post("/synthesize", json={"ref_wav_path": "audio/m1/refer.wav", "text": "hi"}).status_code == 200
    assert engine.calls[0].prompt_text == ""


def test_pipeline_errors_map_to_the_envelope(make_client, clips, png):
    client = make_client(engine=FakeEngine(InputError("文本清洗后为空")))
    create_model(client, clips["5s"], png, "m1")
    body = assert_envelope(client.post("/synthesize", json={"model_id": "m1", "text": "!!"}), 3, 400)
    assert body["message"] == "文本清洗后为空"


def test_a_full_batch_is_busy_503_with_retry_after(make_client, clips, png):
    client = make_client(engine=FakeEngine(BusyError("解码资源已满，请稍后重试")))
    create_model(client, clips["5s"], png, "m1")
    response = client.post("/synthesize", json={"model_id": "m1", "text": "你好"})
    body = assert_envelope(response, 4, 503)
    assert body["message"] == "解码资源已满，请稍后重试" and int(response.headers["retry-after"]) >= 1


def test_set_model(client, tmp_path):
    assert_envelope(client.post("/set_model", json={}), 3, 400)
    assert_envelope(client.post("/set_model", json={"gpt_model_path": "/etc/passwd"}), 3, 400)
    fake = tmp_path / "other.ckpt"
    fake.write_bytes(b"not a checkpoint")
    body = assert_envelope(client.post("/set_model", json={"gpt_model_path": str(fake)}), 1, 503)
    assert "sovits_path" in body["message"]  # the other weights are still missing


def test_each_knob_has_one_default_the_pipelines():
    """/synthesize, the OpenAI route, the command line and the library's own sampler all take a knob's
    default from one place (the GPT's sampler once had top_k 15 while the service said 20)."""
    from GPT_SoVITS.infer import build_parser
    from GPT_SoVITS.pipeline import ChunkPlan, SamplingOptions
    from tts_service.routers.openai import SpeechRequest
    from tts_service.schemas import DirectSynthesisRequest

    defaults, sampling = SynthesisOptions(ref_wav_path="", text=""), SamplingOptions()
    assert defaults.sampling == sampling and sampling.top_k == 20  # the documented default
    cli = vars(build_parser().parse_args(["--ref", "r", "--text", "t", "--out", "o"]))
    bodies = {"synthesize": DirectSynthesisRequest.model_fields, "openai": SpeechRequest.model_fields}
    for name in ("top_k", "top_p", "temperature", "repetition_penalty"):
        assert cli[name] == getattr(sampling, name), name
        for body, fields in bodies.items():
            assert name not in fields or fields[name].default == getattr(sampling, name), (body, name)
    for name in ("speed", "noise_scale", "how_to_cut", "text_language", "ref_free", "seed"):
        assert SynthesisRequest.model_fields[name].default == getattr(defaults, name), name
    assert SpeechRequest.model_fields["noise_scale"].default == defaults.noise_scale
    plan = ChunkPlan(at_pauses=False)
    for fields in bodies.values():
        assert (fields["min_chunk_length"].default, fields["overlap_length"].default) == (plan.min_codes,
                                                                                          plan.overlap_codes)
