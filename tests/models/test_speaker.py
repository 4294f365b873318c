"""ERes2NetV2 speaker verification (v2Pro/v2ProPlus) against the reference, for every sv golden folder present.

`sv_tiny/` here (reduced widths, same structure); `sv/` (the released size) in the evaluation set. The network is
built from the checkpoint's shapes; inputs are the wav files the folder's `meta.json` names, taken through the
same path as the reference's `get_spepc(..., is_v2pro=True)` + `compute_embedding3`.
"""
from __future__ import annotations

import os
import re

import numpy as np
import pytest
import soundfile as sf
from mindspore import Tensor
from golden_data import model_file, model_meta, model_subdirs

from GPT_SoVITS.audio.sv_resample import resample
from GPT_SoVITS.models.speaker import STAGE_NAMES, ERes2NetV2, ERes2NetV2Dims, SpeakerVerifier
from GPT_SoVITS.models.speaker.verifier import drop_unused_head
from GPT_SoVITS.weights import WeightLoadError, load_into, load_speaker_verifier_checkpoint

# The golden README's suggested checks (about 10-20x the reference's own float32 noise).
ATOL_WAV16K = 1e-5
ATOL_EMBEDDING = 1e-3
ATOL_STAGE_MEAN = 1e-3

SV_FOLDERS = model_subdirs(".", only={"sv_tiny", "sv"})
_verifiers: dict[str, SpeakerVerifier] = {}


def verifier(folder: str) -> SpeakerVerifier:
    if folder not in _verifiers:
        _verifiers[folder] = SpeakerVerifier.load(model_file(f"{folder}/{model_meta(folder)['checkpoint']}"))
    return _verifiers[folder]


def case_input(folder: str, meta: dict, case: str) -> tuple[np.ndarray, int]:
    """The clip a golden case starts from, loaded as `torchaudio.load` does (float32 in [-1, 1])."""
    source = meta["cases"][case]["source"]
    prefix = re.match(r"first (\d+) samples", source)
    if prefix:  # "first N samples of the same clip": the first case that names a file
        named = next(c for c, info in meta["cases"].items() if info["source"].startswith("../"))
        wav, sample_rate = case_input(folder, meta, named)
        return wav[: int(prefix.group(1))], sample_rate
    relative = os.path.normpath(os.path.join(folder, source.split()[0]))
    wav, sample_rate = sf.read(model_file(relative), dtype="float32")
    return wav, sample_rate


def golden_and_meta(folder: str) -> tuple[dict, dict]:
    return dict(np.load(model_file(f"{folder}/golden.npz"))), model_meta(folder)


@pytest.mark.parametrize("folder", SV_FOLDERS)
def test_resample_to_16k_matches_reference(folder: str) -> None:
    golden, meta = golden_and_meta(folder)
    for case in meta["cases"]:
        wav, sample_rate = case_input(folder, meta, case)
        wav16k = resample(wav, sample_rate, meta["fbank_args"]["sample_frequency"])
        assert wav16k.dtype == np.float32
        assert list(wav16k.shape) == meta["arrays"][f"{case}.wav16k"][0]
        np.testing.assert_allclose(wav16k, golden[f"{case}.wav16k"], rtol=0, atol=ATOL_WAV16K, err_msg=case)


@pytest.mark.parametrize("folder", SV_FOLDERS)
def test_dims_read_from_checkpoint_match_constructor(folder: str) -> None:
    meta = model_meta(folder)
    args, shapes = meta["architecture"]["constructor_args"], meta["architecture"]["shapes"]
    dims = verifier(folder).dims
    assert dims == ERes2NetV2Dims.from_base_width(
        m_channels=args["m_channels"], base_width=args["baseWidth"], expansion=args["expansion"],
        scale=args["scale"], num_blocks=tuple(args["num_blocks"]), embedding_size=args["embedding_size"],
        feat_dim=args["feat_dim"])
    assert list(dims.widths) == shapes["block_width"]
    assert [dims.stage_channels(s) for s in range(4)] == shapes["stage_out_channels"]
    assert meta["fbank_args"]["num_mel_bins"] == dims.feat_dim


@pytest.mark.parametrize("folder", SV_FOLDERS)
def test_embedding_from_wav_matches_reference(folder: str) -> None:
    golden, meta = golden_and_meta(folder)
    sv = verifier(folder)
    for case in meta["cases"]:
        wav, sample_rate = case_input(folder, meta, case)
        emb = sv.embedding(wav, sample_rate)
        assert emb.dtype == np.float32
        assert list(emb.shape) == meta["arrays"][f"{case}.embedding"][0] == [sv.dims.embedding_dim]
        np.testing.assert_allclose(emb, golden[f"{case}.embedding"], rtol=0, atol=ATOL_EMBEDDING, err_msg=case)


@pytest.mark.parametrize("folder", SV_FOLDERS)
def test_stage_means_match_reference(folder: str) -> None:
    golden, meta = golden_and_meta(folder)
    sv = verifier(folder)
    keys = [k for k in golden if ".stage_mean." in k]
    assert {k.rsplit(".", 1)[1] for k in keys} == set(STAGE_NAMES)
    for case in {k.split(".")[0] for k in keys}:
        wav, sample_rate = case_input(folder, meta, case)
        means = sv.stage_means(sv.features(wav, sample_rate))
        for name in STAGE_NAMES:
            key = f"{case}.stage_mean.{name}"
            assert list(means[name].shape) == meta["arrays"][key][0]
            np.testing.assert_allclose(means[name], golden[key], rtol=0, atol=ATOL_STAGE_MEAN, err_msg=key)


@pytest.mark.parametrize("folder", SV_FOLDERS)
def test_loading_is_strict(folder: str) -> None:
    meta = model_meta(folder)
    path = model_file(f"{folder}/{meta['checkpoint']}")
    state = load_speaker_verifier_checkpoint(path)
    assert len(state) == meta["load"]["n_tensors"]
    dims = ERes2NetV2Dims.from_state_dict(state)
    trunk = drop_unused_head(state, dims)
    assert sorted(set(state) - set(trunk)) == sorted(meta["load"]["unused_by_forward3"])
    del trunk["layer3_ds.weight"]
    with pytest.raises(WeightLoadError, match="layer3_ds.weight"):
        load_into(ERes2NetV2(dims), trunk, source=str(path))


def _shapes_of(net: ERes2NetV2) -> dict[str, np.ndarray]:
    """A zero-cost stand-in state dict: the network's parameter shapes plus the seg_1 head."""
    state = {name: np.broadcast_to(np.float32(0), p.shape) for name, p in net.parameters_and_names()}
    dims = net.dims
    state["seg_1.weight"] = np.broadcast_to(np.float32(0), (dims.embedding_size, 2 * dims.embedding_dim))
    state["seg_1.bias"] = np.broadcast_to(np.float32(0), (dims.embedding_size,))
    return state


def test_full_size_dims_round_trip_through_shapes() -> None:
    # The released model (sv.py's constructor) is recovered from its own shapes, with a 20480-wide embedding.
    full = ERes2NetV2(ERes2NetV2Dims())
    state = _shapes_of(full)
    assert ERes2NetV2Dims.from_state_dict(state) == ERes2NetV2Dims()
    assert ERes2NetV2Dims.from_base_width(64, 24) == ERes2NetV2Dims()
    assert full.dims.embedding_dim == 20480
    assert set(drop_unused_head(state, full.dims)) == {name for name, _ in full.parameters_and_names()}
    # The full-size trunk runs end to end (a short input: shapes, not values, are checked here).
    frames = 21
    stages = full.stages(Tensor(np.zeros((1, frames, full.dims.feat_dim), np.float32)))
    assert stages["fuse34"].shape == (1, full.dims.stage_channels(3), full.dims.pooled_freq, -(-frames // 8))
    assert full(Tensor(np.zeros((1, frames, full.dims.feat_dim), np.float32))).shape == (1, 20480)


def test_head_is_required_and_checked() -> None:
    net = ERes2NetV2(ERes2NetV2Dims.from_base_width(m_channels=8, embedding_size=4))
    state = _shapes_of(net)
    without_head = {k: v for k, v in state.items() if not k.startswith("seg_1.")}
    with pytest.raises(ValueError, match="seg_1"):
        drop_unused_head(without_head, net.dims)
    state["seg_1.weight"] = np.broadcast_to(np.float32(0), (4, 12))
    with pytest.raises(ValueError, match="seg_1.weight"):
        drop_unused_head(state, net.dims)
