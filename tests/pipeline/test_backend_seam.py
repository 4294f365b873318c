"""The pipeline runs on any back end that satisfies `GPT_SoVITS.models.backends`: here numpy stand-ins,
so synthesis, chunked streaming and both warm-ups must go through the protocols and nothing else."""
from __future__ import annotations

import logging
import threading
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from GPT_SoVITS.models import backends
from GPT_SoVITS.pipeline import ChunkPlan, ModelPaths, SynthesisOptions
from GPT_SoVITS.pipeline.models import Models
from GPT_SoVITS.pipeline.options import Batching
from GPT_SoVITS.pipeline.synthesizer import Synthesizer, limit_peak, to_int16

RATE = 32000
CODES = np.array([5, 9, 2, 7, 7, 1, 3, 8, 6, 4, 2, 9, 5, 1], np.int64)
FRAMES_PER_CODE, SAMPLES_PER_FRAME = 2, 3


class Stages:
    """Every stand-in lists one stage before serving and one in the background, named after itself."""

    name = "model"

    def warm_up_stages(self, *, background: bool) -> list[backends.WarmUpStage]:
        return [(f"{self.name}.{'later' if background else 'start'}", lambda: None)]


class Semantic(Stages):
    name = "semantic"
    mute_similarity = np.full(16, -1.0, np.float32)

    def generate(self, phoneme_ids, prompt, features, options=backends.SamplingOptions(), early_stop_num=None,
                 seed=None):
        return SimpleNamespace(webui_tokens=CODES)

    def generate_tokens(self, phoneme_ids, prompt, features, options=backends.SamplingOptions(),
                        early_stop_num=None, seed=None):
        for i, code in enumerate(CODES):
            yield int(code), i == CODES.size - 1
        return self.generate(phoneme_ids, prompt, features)

    def new_batch(self, batch_sizes):
        return SemanticBatch()


class SemanticBatch(Stages):
    """Every utterance in the batch gets the next of `CODES` at each step."""

    name = "semantic_batch"

    def __init__(self):
        self.decoding: list[SimpleNamespace] = []  # handles, each counting the codes handed out

    def has_room(self, positions=0):
        return len(self.decoding) < 4

    def add(self, phoneme_ids, prompt, features, options=backends.SamplingOptions(), early_stop_num=None, seed=None):
        handle = SimpleNamespace(given=1)
        self.decoding.append(handle)
        return handle, [(int(CODES[0]), False)]

    def step(self):
        chosen = []
        for handle in list(self.decoding):
            last = handle.given == CODES.size - 1
            chosen.append((handle, [(int(CODES[handle.given]), last)]))
            handle.given += 1
            if last:
                self.decoding.remove(handle)
        return chosen

    def finished(self, handle):
        return handle.given == CODES.size

    def result(self, handle):
        return SimpleNamespace(webui_tokens=CODES)

    def remove(self, handle):
        if handle in self.decoding:
            self.decoding.remove(handle)

    def __len__(self):
        return len(self.decoding)


class Acoustic(Stages):
    """Audio is the codes themselves, each repeated for its samples and scaled by the voice's timbre."""

    name = "acoustic"
    version, symbols_version, sampling_rate = "v2", "v2", RATE
    frames_per_code, samples_per_frame = FRAMES_PER_CODE, SAMPLES_PER_FRAME

    def reference_spectrogram(self, path):
        audio, _ = sf.read(path, dtype="float32")
        return np.abs(audio[:64]).reshape(4, 16), audio

    def prompt_codes(self, ssl_content):
        return np.asarray(ssl_content, np.int64)

    def reference_timbre(self, spectrogram, speaker_embedding):
        return np.full((1, 1, 1), 0.5, np.float32)

    def voice_timbre(self, timbres):
        return float(np.mean(timbres))

    def decode(self, codes, phones, timbre, noise_scale=0.5, speed=1.0, seed=None):
        return self.synthesize_frames(self.frame_encoder(phones, timbre)(codes), timbre, noise_scale, speed, None)

    def frame_encoder(self, phones, timbre):
        return lambda codes: np.repeat(np.asarray(codes, np.float32), FRAMES_PER_CODE)[None, None] / 10

    def join_frames(self, window, previous):
        return window

    def synthesize_frames(self, frames, timbre, noise_scale, speed, rng):
        return np.repeat(frames[0, 0] * timbre, SAMPLES_PER_FRAME).astype(np.float32)


class TextFeatures(Stages):
    name = "text"
    max_tokens = 512

    def reads(self, language):
        return language.replace("all_", "") == "zh"

    def token_count(self, text):
        return len(text) + 2

    def features(self, language, norm_text, word2ph, n_phones):
        return np.zeros((1024, n_phones), np.float32)


class SSL(Stages):
    name = "ssl"

    def content(self, wav16k):
        return [3, 1, 4, 1, 5]


@pytest.fixture(params=["alone", "batched"])
def synthesizer(request) -> Synthesizer:
    models = Models(gpt=Semantic(), sovits=Acoustic(), hubert=SSL(), bert=TextFeatures(), speaker=None,
                    paths=ModelPaths("", "", "", ""))
    for model, protocol in ((models.gpt, backends.SemanticModel), (models.sovits, backends.AcousticModel),
                            (models.bert, backends.TextFeatureModel), (models.hubert, backends.SSLModel),
                            (models.gpt.new_batch((1,)), backends.SemanticBatchDecoder)):
        assert isinstance(model, protocol)
    synth = Synthesizer(models, batching=Batching() if request.param == "batched" else None)
    yield synth
    synth.close()


@pytest.fixture
def clip(tmp_path) -> str:
    path = tmp_path / "clip.wav"
    t = np.arange(int(3.5 * RATE)) / RATE
    sf.write(str(path), (0.2 * np.sin(2 * np.pi * 160 * t)).astype(np.float32), RATE)
    return str(path)


def test_a_segment_is_the_acoustic_models_decode_of_the_semantic_models_codes(synthesizer, clip):
    options = SynthesisOptions(ref_wav_path=clip, text="你好。", prompt_text="今天天气不错。", pause_second=0.1)
    rate, audio = synthesizer.synthesize(options)
    voiced = to_int16(limit_peak(np.repeat(np.repeat(CODES / 10, FRAMES_PER_CODE) * 0.5, SAMPLES_PER_FRAME)
                                 .astype(np.float32)))
    assert rate == RATE
    np.testing.assert_array_equal(audio, np.concatenate([voiced, np.zeros(int(RATE * 0.1), np.int16)]))


def test_chunked_streaming_voices_windows_through_the_acoustic_model(synthesizer, clip):
    options = SynthesisOptions(ref_wav_path=clip, text="你好。", prompt_text="今天天气不错。", pause_second=0.0,
                               chunks=ChunkPlan(at_pauses=False, min_codes=4, overlap_codes=1))
    pieces = list(synthesizer.stream(options))
    per_code = FRAMES_PER_CODE * SAMPLES_PER_FRAME
    assert len(pieces) == -(-CODES.size // 4)
    first = np.repeat(np.repeat(CODES[:4] / 10, FRAMES_PER_CODE) * 0.5, SAMPLES_PER_FRAME).astype(np.float32)
    np.testing.assert_array_equal(pieces[0], to_int16(first[:-per_code]))  # its overlap code held back


def test_both_warm_ups_run_every_models_own_stages(synthesizer, caplog):
    with caplog.at_level(logging.WARNING, logger="GPT_SoVITS.pipeline.warmup"):
        timings = synthesizer.warm_up()
        later = synthesizer.warm_up_rest()
    failed = [r.getMessage() for r in caplog.records if r.name == "GPT_SoVITS.pipeline.warmup"]
    assert not failed  # no stage failed on the stand-ins
    names = ("semantic_batch" if synthesizer.batching else "semantic", "text", "acoustic", "ssl")
    assert {f"{name}.start" for name in names} <= set(timings)
    assert {f"{name}.later" for name in names} <= set(later)
    assert {"reference", "gpt", "sovits"} <= set(timings)


def test_the_text_frontend_runs_while_another_request_holds_the_models(synthesizer, clip, monkeypatch):
    """g2p is pure Python: it must not wait for the models (a batch's decoding steps), only BERT does."""
    from GPT_SoVITS.pipeline import synthesizer as module

    frontend_ran = threading.Event()
    real_phones = module.phones
    monkeypatch.setattr(module, "phones", lambda *args: (frontend_ran.set(), real_phones(*args))[1])
    holding, release = threading.Event(), threading.Event()

    def hold_the_models():
        with synthesizer._models_lock.request():
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_models)
    holder.start()
    assert holding.wait(30)
    options = SynthesisOptions(ref_wav_path=clip, text="你好。", prompt_text="今天天气不错。")
    result: list = []
    worker = threading.Thread(target=lambda: result.append(synthesizer.synthesize(options)))
    worker.start()
    try:
        assert frontend_ran.wait(30)  # while the models are still held
        assert not result
    finally:
        release.set()
        holder.join(30)
        worker.join(60)
    assert result and result[0][1].size
