"""The compiled, length-bucketed generator gives the op-by-op generator's audio, for every SoVITS folder.

The latent and timbre come from the folder's golden trace (`<case>.dec_in`, `<case>.ge`), at the golden
length (one less if that fills whole buckets), so the padding zeroed by the generator's mask is exercised.
The golden audio itself is checked through the default (compiled) path by test_sovits_parity.py.
"""
from __future__ import annotations

import numpy as np
import mindspore as ms
import pytest
from golden_data import model_file, model_subdirs

from GPT_SoVITS.models.sovits import load_sovits
from GPT_SoVITS.models.sovits.compiled import FRAME_BUCKET, BucketedGenerator, bucketed

VERSIONS = model_subdirs("sovits")
ATOL = 1e-7  # same kernels, same summation order: equal up to float32 rounding of the last bit


def test_buckets_round_up_to_whole_multiples():
    assert bucketed(1) == FRAME_BUCKET
    assert bucketed(FRAME_BUCKET) == FRAME_BUCKET
    assert bucketed(FRAME_BUCKET + 1) == 2 * FRAME_BUCKET


@pytest.mark.parametrize("version", VERSIONS)
def test_bucketed_generator_equals_op_by_op(version):
    sovits = load_sovits(model_file(f"sovits/{version}/model.pth"))
    golden = np.load(model_file(f"sovits/{version}/golden.npz"))
    dec, hop = sovits.model.dec, sovits.hop_length
    case = next(k[: -len(".dec_in")] for k in golden.files if k.endswith(".dec_in"))
    z_full, ge = golden[f"{case}.dec_in"][None], ms.Tensor(golden[f"{case}.ge"].reshape(1, -1, 1))
    names = [p.name for p in dec.get_parameters()]
    compiled = BucketedGenerator(dec)
    frames = z_full.shape[-1] - (z_full.shape[-1] % FRAME_BUCKET == 0)  # never a whole bucket: padding is used
    z = ms.Tensor(np.ascontiguousarray(z_full[:, :, :frames]))
    expected = dec(z, ge).asnumpy()
    actual = compiled(z, ge).asnumpy()
    assert actual.shape == expected.shape == (1, 1, frames * hop)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=ATOL)
    # Compiling must leave the parameter names (the checkpoint keys) as they were.
    assert [p.name for p in dec.get_parameters()] == names
