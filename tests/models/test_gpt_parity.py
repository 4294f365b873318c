"""The MindSpore GPT against the reference's `infer_panel`, for every `gpt/<version>` golden folder.

Each folder holds a random-weight checkpoint, the inputs, and per case (`main`, `early`, `ref_free`, ...)
the reference's raw logits and token sequences. Cases, arguments and shapes are all read from the
folder (`meta.json`, `inputs.npz`, `golden.npz`); the tolerance is the golden README's suggested check.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from golden_data import model_file, model_meta, model_subdirs

from GPT_SoVITS.models.gpt import GPT, SamplingOptions, SemanticResult, load_gpt

ATOL_LOGITS = 1e-5  # README: float32 noise of the reference ~5e-7, suggested check 1e-5

VERSIONS = model_subdirs("gpt")


@dataclass
class Run:
    result: SemanticResult
    logits: list[np.ndarray]  # raw logits of every step


_runs: dict[str, dict[str, Run]] = {}


def golden_cases(golden: np.lib.npyio.NpzFile) -> list[str]:
    return sorted({key.split(".", 1)[0] for key in golden.files})


def sampling_options(meta: dict) -> SamplingOptions:
    kwargs = meta["infer_kwargs"]
    return SamplingOptions(top_k=kwargs["top_k"], top_p=kwargs["top_p"], temperature=kwargs["temperature"],
                           repetition_penalty=kwargs["repetition_penalty"])


def decode_all(version: str) -> dict[str, Run]:
    """Run every golden case of a folder once (shared by the tests below)."""
    if version not in _runs:
        folder = f"gpt/{version}"
        meta = model_meta(folder)
        gpt: GPT = load_gpt(model_file(f"{folder}/{meta['checkpoint']}"))
        inputs = np.load(model_file(f"{folder}/inputs.npz"))
        golden = np.load(model_file(f"{folder}/golden.npz"))
        runs = {}
        for case in golden_cases(golden):
            args = meta["cases"][case]
            logits: list[np.ndarray] = []
            result = gpt.generate(inputs["all_phoneme_ids"], None if args["ref_free"] else inputs["prompt_semantic"],
                                  inputs["bert"], sampling_options(meta), early_stop_num=args["early_stop_num"],
                                  seed=0, on_step=lambda _, raw: logits.append(raw))
            runs[case] = Run(result, logits)
        _runs[version] = runs
    return _runs[version]


def golden_of(version: str) -> np.lib.npyio.NpzFile:
    return np.load(model_file(f"gpt/{version}/golden.npz"))


@pytest.mark.parametrize("version", VERSIONS)
def test_config_read_from_checkpoint(version):
    meta = model_meta(f"gpt/{version}")
    gpt = load_gpt(model_file(f"gpt/{version}/{meta['checkpoint']}"))
    model_cfg = meta["config_model"]
    assert (gpt.config.hidden_dim, gpt.config.num_heads, gpt.config.num_layers) == (
        model_cfg["hidden_dim"], model_cfg["head"], model_cfg["n_layer"])
    assert (gpt.config.vocab_size, gpt.config.phoneme_vocab_size, gpt.config.eos) == (
        model_cfg["vocab_size"], model_cfg["phoneme_vocab_size"], model_cfg["EOS"])
    assert gpt.config.ffn_dim == 4 * model_cfg["hidden_dim"]  # linear_units is ignored, as in the reference
    assert gpt.max_sec == meta["max_sec"]
    assert gpt.version == meta["version"]


@pytest.mark.parametrize("version", VERSIONS)
def test_first_step_logits(version):
    golden, runs = golden_of(version), decode_all(version)
    for case, run in runs.items():
        expected = golden[f"{case}.first_step_logits"]
        assert run.logits[0].shape == expected.shape, case
        np.testing.assert_allclose(run.logits[0], expected, rtol=0, atol=ATOL_LOGITS, err_msg=case)


@pytest.mark.parametrize("version", VERSIONS)
def test_all_step_logits(version):
    golden, runs = golden_of(version), decode_all(version)
    cases = [case for case in runs if f"{case}.step_logits" in golden.files]
    assert cases, "no case with step_logits in the golden"
    for case in cases:
        expected = golden[f"{case}.step_logits"]
        assert len(runs[case].logits) == expected.shape[0], case
        np.testing.assert_allclose(np.stack(runs[case].logits), expected, rtol=0, atol=ATOL_LOGITS, err_msg=case)


@pytest.mark.parametrize("version", VERSIONS)
def test_token_sequences_exact(version):
    golden, runs = golden_of(version), decode_all(version)
    for case, run in runs.items():
        np.testing.assert_array_equal(run.result.tokens, golden[f"{case}.y_full"], err_msg=case)
        np.testing.assert_array_equal(run.result.webui_tokens, golden[f"{case}.webui_pred_semantic"], err_msg=case)


@pytest.mark.parametrize("version", VERSIONS)
def test_stop_bookkeeping(version):
    meta, runs = model_meta(f"gpt/{version}"), decode_all(version)
    for case, run in runs.items():
        expected = meta["cases"][case]
        got = (run.result.n_steps, len(run.result.generated), run.result.idx, run.result.eos)
        want = (expected["n_steps"], expected["n_generated"], expected["idx_returned"], expected["eos_reached"])
        assert got == want, case
