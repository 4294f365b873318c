"""The HiFi-GAN generator as ONE compiled graph (`mindspore.jit`) over a fixed window of latent frames.

The generator is ~90% of SoVITS decoding. Compiled, its ~400 kernels run from one graph, the form an
Ascend NPU needs. A graph is specialised to its input shape, so every
length is decoded in windows of the same size: each window carries the generator's receptive radius of
extra frames on both sides, frames past the utterance are zeros under the generator's zero `mask`, and
only each window's central audio is kept. The result equals the op-by-op generator's to float32 noise.
The weights are the generator's own cells (shared).

Used where `runtime.compiled_generator()` says so: by default everywhere but on the CPU, where the
convolutions are oneDNN kernels either way and op by op is as fast without the compilation.
"""
from __future__ import annotations

import math

import numpy as np
import mindspore as ms
from mindspore import nn

from .generator import Generator, receptive_radius

WINDOW = 128  # latent frames kept per window (2.56 s): 2 x 13 overlap frames cost 20% more work; 64 cost 40%


class GeneratorGraph(nn.Cell):
    def __init__(self, generator: Generator):
        super().__init__(auto_prefix=False)  # keep the generator's parameter names
        self.dec = generator

    @ms.jit
    def construct(self, x: ms.Tensor, g: ms.Tensor, mask: ms.Tensor) -> ms.Tensor:
        return self.dec(x, g, mask)


class WindowedGenerator:
    """`decoder(z [1, C, T], g) -> audio [1, 1, T * hop]`, window by window through ONE compiled graph.

    Window k decodes latent frames [kW - R, kW + W + R) and keeps the audio of its central W frames; R is
    the generator's receptive radius, so the kept samples never see the window's edges. Frames outside
    the utterance are zeros under a zero mask, which is the reference's zero padding (see `Generator`).
    Memory is that of one window whatever the length; the cost is 2R/W frames decoded twice."""

    def __init__(self, generator: Generator, window: int = WINDOW):
        self._graph = GeneratorGraph(generator)
        self._hop = math.prod(generator.upsample_rates)
        self.window = window
        self.overlap = receptive_radius(generator.dims)

    def __call__(self, z: ms.Tensor, g: ms.Tensor) -> ms.Tensor:
        b, channels, frames = z.shape
        w, r = self.window, self.overlap
        n_windows = max(1, -(-frames // w))
        span = n_windows * w + 2 * r
        latent = np.zeros((b, channels, span), np.float32)
        latent[:, :, r:r + frames] = z.asnumpy()
        mask = np.zeros((b, 1, span), np.float32)
        mask[:, :, r:r + frames] = 1.0
        pieces = []
        for start in range(0, n_windows * w, w):  # `start` indexes `latent` at the window's left overlap
            end = start + w + 2 * r
            audio = self._graph(ms.Tensor(latent[:, :, start:end]), g, ms.Tensor(mask[:, :, start:end]))
            pieces.append(audio.asnumpy()[:, :, r * self._hop:(r + w) * self._hop])
        return ms.Tensor(np.concatenate(pieces, axis=-1)[:, :, :frames * self._hop])

    def warm_up(self, channels: int, gin_channels: int) -> None:
        """Compile the graph now (one window of zeros), so that the first request does not pay for it."""
        z = ms.Tensor(np.zeros((1, channels, self.window), np.float32))
        self(z, ms.Tensor(np.zeros((1, gin_channels, 1), np.float32))).asnumpy()
