"""Convolution arithmetic of SoVITS's HiFi-GAN generator, counted from its layers' weight shapes.

2 FLOP per multiply-add, the work of decoding `frames` latent frames whole (what the reference does):
the windows' overlap, padding or masks are not counted, so FLOP / seconds compares implementations
doing the same work. tools/reference_bench/sovits_decode.py counts the reference's the same way.
"""
from __future__ import annotations

from GPT_SoVITS.models.sovits.layers import Conv1d


def _conv(cell, length: int) -> int:
    """torch.nn.Conv1d weight [out, in / groups, k]: every output sample is out x in x k multiply-adds."""
    out, per_group_in, k = cell.weight.shape
    return 2 * out * per_group_in * k * length


def _transposed(cell, input_length: int) -> int:
    """torch.nn.ConvTranspose1d weight [in, out, k]: every input sample meets out x k weights."""
    n_in, out, k = cell.weight.shape
    return 2 * n_in * out * k * input_length


def generator_flops(generator, frames: int) -> int:
    """FLOP of `generator` (a `models.sovits.generator.Generator`) over `frames` latent frames."""
    total = _conv(generator.conv_pre, frames)
    if generator.cond is not None:
        total += _conv(generator.cond, 1)  # the timbre vector: one frame
    length = frames
    for i, up in enumerate(generator.ups):
        total += _transposed(up, length)
        length = (length - 1) * up.stride - 2 * up.padding + up.kernel_size
        for j in range(generator.n_kernels):
            block = generator.resblocks[i * generator.n_kernels + j]
            total += sum(_conv(cell, length) for _, cell in block.cells_and_names() if isinstance(cell, Conv1d))
    total += _conv(generator.conv_post, length)
    return total
