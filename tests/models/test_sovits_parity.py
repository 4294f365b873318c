"""SoVITS (s2) against the reference for every `sovits/<version>` golden folder present.

v1, v2 and v2Pro here; the evaluation set adds v2ProPlus with the same layout. Every shape, argument and
expected value comes from the folder's `inputs.npz`, `golden.npz` and `meta.json`; the model is built from
the checkpoint's own config, so ProPlus's different decoder is read, not assumed.
"""
from __future__ import annotations

import numpy as np
import pytest
from golden_data import model_file, model_meta, model_subdirs

from GPT_SoVITS.audio.io import load_mono
from GPT_SoVITS.audio.spectrogram import linear_spectrogram, normalize_peak
from GPT_SoVITS.models.sovits import SoVITS, load_sovits

# The golden README's suggested checks (10-20x the reference's own float32-vs-float64 noise).
ATOL = {
    "quantized": 1e-7,
    "ge": 1e-6,
    "m_p": 5e-5, "logs_p": 5e-5, "enc_p_x": 5e-5, "z": 5e-5, "dec_in": 5e-5,
    "audio": 1e-5,
}
ATOL_PRO_CONDITIONING = 1e-5  # Pro `ge_ref_enc`, `sv_proj`, `ge`, `ge512`
PRO_KEYS = ("ge_ref_enc", "sv_proj", "ge", "ge512")
# README section 2: the `two_refs` case's second reference is the first 2.5 s of ref.wav, as its own file.
SHORT_REF_SECONDS = 2.5
SV_INPUTS = ("sv_emb", "sv_emb_short")  # Pro inputs, parallel to the references [spec, spec_short]

VERSIONS = model_subdirs("sovits")
_models: dict[str, SoVITS] = {}
_decoded: dict[tuple[str, str], tuple[np.ndarray, dict]] = {}


def folder_data(version: str) -> tuple[dict, dict, dict]:
    folder = f"sovits/{version}"
    inputs = dict(np.load(model_file(f"{folder}/inputs.npz")))
    golden = dict(np.load(model_file(f"{folder}/golden.npz")))
    return inputs, golden, model_meta(folder)


def model(version: str) -> SoVITS:
    if version not in _models:
        _models[version] = load_sovits(model_file(f"sovits/{version}/model.pth"))
    return _models[version]


def short_reference_spec(version: str, meta: dict) -> np.ndarray:
    """`get_spepc` of the first part of ref.wav, as if it were a file of its own."""
    rate = int(meta["hps"]["data"]["sampling_rate"])
    case = meta["decode_cases"].get("two_refs", {})
    n = int(case.get("short_ref_samples", SHORT_REF_SECONDS * rate))
    audio = load_mono(model_file(f"sovits/{version}/{meta['ref_wav']['file']}"), rate)[:n]
    data = meta["hps"]["data"]
    return linear_spectrogram(normalize_peak(audio), data["filter_length"], data["hop_length"], data["win_length"])


def decoded(version: str, case: str) -> tuple[np.ndarray, dict]:
    """(audio, intermediate tensors as numpy without the batch axis) of one golden decode case."""
    if (version, case) not in _decoded:
        inputs, golden, meta = folder_data(version)
        args = meta["decode_cases"][case]
        specs = [golden["spec"][None], short_reference_spec(version, meta)[None]][: args["n_refers"]]
        sv = [inputs[k][None] for k in SV_INPUTS[: args["n_sv_emb"]]] if "n_sv_emb" in args else None
        trace: dict = {}
        audio = model(version).model.decode(inputs["codes"], inputs["phones"][None], specs,
                                            noise_scale=args["noise_scale"], speed=args["speed"],
                                            sv_emb=sv, trace=trace)
        values = {k: v.asnumpy()[0] for k, v in trace.items()}
        _decoded[(version, case)] = (audio.asnumpy()[0, 0], values)
    return _decoded[(version, case)]


def decode_cases() -> list[tuple[str, str]]:
    cases = []
    for version in VERSIONS:
        try:
            cases += [(version, c) for c in model_meta(f"sovits/{version}")["decode_cases"]]
        except BaseException:  # missing golden data: the test itself reports it
            cases.append((version, "main"))
    return cases


@pytest.mark.parametrize("version", VERSIONS)
def test_version_detection(version):
    meta = model_meta(f"sovits/{version}")
    expected = meta["load"].get("final_hps_model_version", meta.get("version"))
    assert model(version).version == expected


@pytest.mark.parametrize("version", VERSIONS)
def test_extract_latent_codes_are_exact(version):
    inputs, golden, _ = folder_data(version)
    codes = model(version).model.extract_latent(inputs["ssl"]).asnumpy()
    np.testing.assert_array_equal(codes, golden["extract_latent_codes"])


@pytest.mark.parametrize("version", VERSIONS)
def test_codebook_lookup(version):
    inputs, golden, meta = folder_data(version)
    _, trace = decoded(version, next(iter(meta["decode_cases"])))
    # The trace holds the lookup after the x2 nearest upsampling: every other frame is the codeword.
    np.testing.assert_allclose(trace["quantized"][:, ::2], golden["quantized"][0], atol=ATOL["quantized"], rtol=0)
    np.testing.assert_array_equal(trace["quantized"][:, ::2], trace["quantized"][:, 1::2])


@pytest.mark.parametrize("version,case", decode_cases())
def test_decode_matches_reference(version, case):
    _, golden, meta = folder_data(version)
    audio, trace = decoded(version, case)
    values = {"audio": audio, **trace}
    keys = [k.split(".", 1)[1] for k in golden if k.startswith(f"{case}.")]
    assert "audio" in keys
    pro = model(version).is_pro
    for key in keys:
        expected = golden[f"{case}.{key}"]
        assert key in values, f"{version} {case}: no value for golden key {key}"
        actual = values[key].reshape(expected.shape)
        atol = ATOL_PRO_CONDITIONING if pro and key in PRO_KEYS else ATOL[key]
        np.testing.assert_allclose(actual, expected, atol=atol, rtol=0, err_msg=f"{version} {case}.{key}")
    assert len(audio) == len(golden[f"{case}.audio"])


@pytest.mark.parametrize("version", VERSIONS[:1])
def test_noise_scale_draw_is_seedable(version):
    inputs, golden, _ = folder_data(version)
    net = model(version).model
    sv = [inputs[SV_INPUTS[0]][None]] if model(version).is_pro else None

    def run(seed: int) -> np.ndarray:
        return net.decode(inputs["codes"], inputs["phones"][None], [golden["spec"][None]], noise_scale=0.5,
                          seed=seed, sv_emb=sv).asnumpy()[0, 0]

    first, again = run(1), run(1)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - golden["main.audio"]).max() > 1e-3  # the draw is really applied
