"""End-to-end parity with the reference's get_tts_wav on the golden tiny v2 models (`e2e/`).

Every argument, path and expected array comes from `e2e/meta.json` and `e2e/golden.npz`.
"""
from __future__ import annotations

import numpy as np
import pytest

from golden_data import e2e_file, model_file, model_meta

pytestmark = pytest.mark.slow


def _e2e_path(relative_to_e2e: str, inside: str | None = None) -> str:
    return str(e2e_file(relative_to_e2e, inside))


@pytest.fixture(scope="module")
def meta() -> dict:
    return model_meta("e2e")


@pytest.fixture(scope="module")
def golden() -> dict:
    with np.load(model_file("e2e/golden.npz")) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module", params=["alone", "batched"])
def synthesizer(meta, request):
    """Every test runs on both paths: segments decoded one at a time, each alone, and through the
    batching scheduler (the golden output must not change)."""
    from GPT_SoVITS.pipeline import ModelPaths
    from GPT_SoVITS.pipeline.options import Batching
    from GPT_SoVITS.pipeline.synthesizer import Synthesizer

    models = meta["models"]
    synth = Synthesizer.load(ModelPaths(gpt=_e2e_path(models["gpt"]), sovits=_e2e_path(models["sovits"]),
                                        hubert=_e2e_path(models["hubert"], "pytorch_model.bin"),
                                        bert=_e2e_path(models["bert"], "pytorch_model.bin")),
                             batching=Batching() if request.param == "batched" else None)
    yield synth
    synth.close()


def _options(meta, **overrides):
    from GPT_SoVITS.pipeline import SamplingOptions, SynthesisOptions

    args = meta["get_tts_wav_args"]
    values = dict(
        ref_wav_path=_e2e_path(meta["ref_wav"]), prompt_text=meta["prompt_text"], text=meta["target_text"],
        prompt_language=args["prompt_language"], text_language=args["text_language"], how_to_cut=args["how_to_cut"],
        sampling=SamplingOptions(top_k=args["top_k"], top_p=args["top_p"], temperature=args["temperature"]),
        ref_free=args["ref_free"], speed=args["speed"],
        pause_second=args["pause_second"], noise_scale=0.0, seed=0,
    )
    values.update(overrides)
    return SynthesisOptions(**values)


def test_prompt_and_target_text_features(synthesizer, meta, golden):
    from GPT_SoVITS.pipeline.text_features import prepare_prompt_text, text_features

    args = meta["get_tts_wav_args"]
    version = synthesizer.models.symbol_version
    prompt = text_features(synthesizer.models, prepare_prompt_text(meta["prompt_text"], args["prompt_language"]),
                           args["prompt_language"], version)
    segments = synthesizer.segments(_options(meta))
    assert len(segments) == 1
    target = text_features(synthesizer.models, segments[0], args["text_language"], version)
    np.testing.assert_array_equal(prompt.phone_ids, golden["prompt_phones"])
    np.testing.assert_array_equal(target.phone_ids, golden["target_phones"])
    np.testing.assert_allclose(prompt.bert, golden["prompt_bert"], atol=5e-5, rtol=0)
    np.testing.assert_allclose(target.bert, golden["target_bert"], atol=5e-5, rtol=0)


def test_prompt_codes_of_reference_clip(synthesizer, meta, golden):
    reference = synthesizer.reference(_options(meta).ref_wav_path, with_prompt_codes=True)
    np.testing.assert_array_equal(reference.prompt_codes, golden["prompt_codes"])


def test_waveform_matches_reference(synthesizer, meta, golden):
    sample_rate, audio = synthesizer.synthesize(_options(meta))
    assert sample_rate == meta["output"]["sampling_rate"]
    assert audio.dtype == np.int16
    assert audio.shape == golden["output_int16"].shape
    # decode audio within 1e-5 of the reference; after * 32767 and truncation that is at most 1 step.
    assert np.abs(audio.astype(np.int64) - golden["output_int16"]).max() <= 1
    pause = meta["output"]["pause_samples_appended"]
    assert not audio[-pause:].any()


def test_second_call_reuses_reference_work(synthesizer, meta, monkeypatch):
    from GPT_SoVITS.pipeline import ChunkPlan

    references, prompts = synthesizer._references, synthesizer._prompts
    synthesizer.reference(_options(meta).ref_wav_path, with_prompt_codes=True)  # cached, if not yet
    before = (references.misses, prompts.misses)
    model = synthesizer.models.sovits.model
    timbre_runs = []
    real = model.reference_embedding
    monkeypatch.setattr(model, "reference_embedding", lambda *a, **k: timbre_runs.append(1) or real(*a, **k))
    synthesizer.synthesize(_options(meta))
    synthesizer.synthesize(_options(meta, chunks=ChunkPlan(at_pauses=False)))
    assert (references.misses, prompts.misses) == before
    assert timbre_runs == []  # SoVITS's timbre vector comes from the cache too, in both decoding paths


# -- chunked streaming (the reference's streaming_mode 2 and 3) on the same run ---------------------------
def _generated_codes(golden) -> np.ndarray:
    return golden["y_full"][golden["prompt_codes"].size:]


def _pieces(synthesizer, meta, **plan) -> tuple[list[np.ndarray], np.ndarray]:
    """The streamed pieces of the one segment cut as `ChunkPlan(**plan)` says, and the trailing pause
    (checked to be silence)."""
    from GPT_SoVITS.pipeline import ChunkPlan

    pieces = list(synthesizer.stream(_options(meta, chunks=ChunkPlan(**plan))))
    pause = pieces.pop()
    assert pause.size == meta["output"]["pause_samples_appended"] and not pause.any()
    return pieces, pause


def _decoded_alone(synthesizer, meta, golden, codes: np.ndarray) -> np.ndarray:
    """These codes voiced by one plain SoVITS decode (no noise, as `_options`), float32."""
    reference = synthesizer.reference(_options(meta).ref_wav_path, with_prompt_codes=True)
    audio = synthesizer.models.sovits.model.decode(codes[None, None], golden["target_phones"][None],
                                                   [reference.spec], noise_scale=0.0)
    return audio.asnumpy().reshape(-1)


def test_one_chunk_is_the_whole_segment_decoded_at_once(synthesizer, meta, golden):
    from GPT_SoVITS.pipeline.synthesizer import limit_peak, to_int16

    codes = _generated_codes(golden)
    pieces, pause = _pieces(synthesizer, meta, at_pauses=False, min_codes=codes.size + 1)
    assert len(pieces) == 1
    if meta["eos_reached"]:  # then the webui voices every generated code: the reference's own output
        expected = golden["output_int16"][:-pause.size]
    else:
        expected = to_int16(limit_peak(_decoded_alone(synthesizer, meta, golden, codes)))
    assert pieces[0].shape == expected.shape
    assert np.abs(pieces[0].astype(np.int64) - expected).max() <= 1


@pytest.mark.parametrize("overlap", [1, 2])
def test_fixed_chunks_come_as_many_as_planned_and_join_into_the_segment(synthesizer, meta, golden, overlap):
    from GPT_SoVITS.pipeline.chunked import SOLA_SEARCH
    from GPT_SoVITS.pipeline.synthesizer import limit_peak, to_int16

    codes = _generated_codes(golden)
    size = max(overlap + 1, codes.size // 3)
    pieces, _ = _pieces(synthesizer, meta, at_pauses=False, min_codes=size, overlap_codes=overlap)
    # every full chunk sends audio; after an EOS the withheld tail comes as the last piece
    count_stop_on_boundary = not meta["eos_reached"] and codes.size % size == 0
    assert len(pieces) == codes.size // size + (0 if count_stop_on_boundary else 1)

    cfg = synthesizer.models.sovits.model.cfg
    per_code = cfg.samples_per_frame * cfg.frames_per_code
    total = sum(piece.size for piece in pieces)
    # each join may skip up to SOLA_SEARCH samples to line the chunks up; nothing is doubled
    assert codes.size * per_code - (len(pieces) - 1) * SOLA_SEARCH <= total <= codes.size * per_code

    # The first chunk is voiced from its own codes alone, exactly; its last `overlap` codes are held back.
    first = _decoded_alone(synthesizer, meta, golden, codes[:size])[:-overlap * per_code]
    assert np.abs(pieces[0].astype(np.int64) - to_int16(limit_peak(first))).max() <= 1


def test_chunks_cut_at_pauses_are_repeatable_and_lose_nothing(synthesizer, meta, golden):
    from GPT_SoVITS.models.gpt.config import MUTE_TOKEN
    from GPT_SoVITS.pipeline.chunked import SOLA_SEARCH

    similarity = synthesizer.models.gpt.mute_similarity
    assert similarity[MUTE_TOKEN] == pytest.approx(1.0, abs=1e-6) and np.abs(similarity).max() <= 1 + 1e-6
    codes = _generated_codes(golden)
    chunking = dict(at_pauses=True, min_codes=max(2, codes.size // 4), overlap_codes=1)
    pieces, _ = _pieces(synthesizer, meta, **chunking)
    again, _ = _pieces(synthesizer, meta, **chunking)
    assert [p.tolist() for p in pieces] == [p.tolist() for p in again]
    cfg = synthesizer.models.sovits.model.cfg
    per_code = cfg.samples_per_frame * cfg.frames_per_code
    total = sum(piece.size for piece in pieces)
    assert codes.size * per_code - (len(pieces) - 1) * SOLA_SEARCH <= total <= codes.size * per_code


# -- a segment longer than BERT's position table (issue 19) ----------------------------------------------
def _over_long_text(synthesizer) -> str:
    """Chinese without any punctuation, several times what BERT reads at once (limit from its config)."""
    limit = synthesizer.models.bert.config.max_position_embeddings
    sentence = "今天天气很好我们一起去公园散步吧"
    return (sentence * (600 // len(sentence) + 1))[:max(600, 3 * limit)]


def test_over_long_segment_is_cut_again_to_fit_bert(synthesizer, meta):
    from GPT_SoVITS.pipeline.text_features import text_features

    text = _over_long_text(synthesizer)
    options = _options(meta, text=text, how_to_cut="cut0")
    segments = synthesizer.segments(options)
    bert = synthesizer.models.bert
    assert len(segments) > 1
    for segment in segments:  # each one's BERT features: no more tokens than BERT has positions
        norm_text = text_features(synthesizer.models, segment, options.text_language,
                                  synthesizer.models.symbol_version).norm_text
        assert len(bert.encode(norm_text)[0]) <= bert.config.max_position_embeddings
    assert all(s.endswith("。") for s in segments)
    assert "".join(s.removesuffix("。") for s in segments) == text


def test_over_long_segment_synthesises(synthesizer, meta):
    options = _options(meta, text=_over_long_text(synthesizer), how_to_cut="cut0", pause_second=0.0)
    sample_rate, audio = synthesizer.synthesize(options)
    assert audio.dtype == np.int16 and audio.size > 0


def test_text_too_long_for_bert_is_an_input_error_naming_the_limit(synthesizer):
    """A prompt text is never cut: past BERT's positions it is the user's input error (code 3), not a crash."""
    from GPT_SoVITS.pipeline import InputError
    from GPT_SoVITS.pipeline.text_features import text_features

    limit = synthesizer.models.bert.config.max_position_embeddings
    with pytest.raises(InputError, match=f"BERT.* {limit} "):
        text_features(synthesizer.models, _over_long_text(synthesizer), "中文", synthesizer.models.symbol_version)


def test_concurrent_syntheses_share_the_batch_and_each_gives_the_reference(synthesizer, meta, golden):
    """Three requests at once: with batching their segments decode in one batch (seen at some step with
    more than one sequence), and each still answers the reference's waveform."""
    import threading

    from GPT_SoVITS.pipeline import ChunkPlan
    from GPT_SoVITS.pipeline.options import Batching
    from GPT_SoVITS.pipeline.synthesizer import Synthesizer

    synthesizer = Synthesizer(synthesizer.models, batching=Batching())  # on the same (cached) models
    batch = synthesizer._scheduler.batch.batch
    widths: list[int] = []
    real_step = batch.step
    batch.step = lambda: widths.append(len(batch.sequences)) or real_step()
    answers: dict[int, np.ndarray] = {}
    plans = {0: None, 1: None, 2: ChunkPlan(at_pauses=False)}  # the third streams in chunks meanwhile

    def run(i: int) -> None:
        if plans[i] is None:
            answers[i] = synthesizer.synthesize(_options(meta))[1]
        else:
            answers[i] = np.concatenate(list(synthesizer.stream(_options(meta, chunks=plans[i]))))

    threads = [threading.Thread(target=run, args=(i,)) for i in plans]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
    finally:
        batch.step = real_step
        synthesizer.close()
    assert max(widths) >= 2, "the requests never shared a step"
    for i in (0, 1):
        assert np.abs(answers[i].astype(np.int64) - golden["output_int16"]).max() <= 1
    assert answers[2].shape == golden["output_int16"].shape  # chunked: the same codes, approximately voiced


TRAINING_STEPS = 6  # the most steps the training beside the synthesis takes (each well under a second)


@pytest.mark.parametrize("synthesizer", ["batched"], indirect=True)  # the service's path
def test_a_training_in_another_thread_takes_turns_and_changes_neither_side(synthesizer, meta):
    """The service trains a voice (a fine-tune task) in a thread of its own while syntheses run in others.
    MindSpore crashes (a segmentation fault) when a training step computes its gradients while a synthesis
    computes BERT features in another thread, so each step holds `background_turn` (the models' lock, taken
    when requests left it alone for a moment). A synthesis asked for during a step waits for the step; both
    then give what they give alone: the same samples, the same losses and weights (the tiny GPT of the s1
    training golden, without dropout)."""
    import threading

    from training.s1_golden import meta as s1_meta, tiny_model, training_batches
    from GPT_SoVITS.training.s1 import S1Trainer

    batches, alone = training_batches(), synthesizer.synthesize(_options(meta))[1]
    beside, losses, failures = S1Trainer(tiny_model(), s1_meta()["config"], dropout=0.0), [], []
    stepping, synthesized = threading.Event(), threading.Event()

    def train() -> None:
        try:
            while len(losses) < TRAINING_STEPS and not synthesized.is_set():
                with synthesizer.background_turn():
                    stepping.set()  # the synthesis is asked for while this step computes
                    losses.append(beside.train_step(batches[len(losses) % len(batches)])["loss"])
        except BaseException as exc:  # reported below: the assertion names it
            failures.append(exc)
            stepping.set()

    thread = threading.Thread(target=train)
    thread.start()
    assert stepping.wait(600)
    try:
        audio = synthesizer.synthesize(_options(meta))[1]
    finally:
        synthesized.set()
        thread.join(600)
    assert not failures and losses, failures
    np.testing.assert_array_equal(audio, alone)
    again = S1Trainer(tiny_model(), s1_meta()["config"], dropout=0.0)
    assert [again.train_step(batches[i % len(batches)])["loss"] for i in range(len(losses))] == losses
    for (name, ours), (_, theirs) in zip(beside.model.parameters_and_names(), again.model.parameters_and_names()):
        np.testing.assert_array_equal(ours.asnumpy(), theirs.asnumpy(), err_msg=name)
