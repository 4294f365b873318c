"""The HiFi-GAN generator as ONE compiled graph (`mindspore.jit`) over a fixed window of latent frames.

The generator is ~90% of SoVITS decoding. Compiled, its ~400 kernels run from one graph, the form an
Ascend NPU needs. A graph is specialised to its input shape, so every
length is decoded in windows of the same size: each window carries the generator's receptive radius of
extra frames on both sides, frames past the utterance are zeros under the generator's zero `mask`, and
only each window's central audio is kept. The result equals the op-by-op generator's to float32 noise.
The weights are the generator's own cells (shared).

Used where `runtime.compiled_generator()` says so (by default), once `warm_up` has compiled the graph,
which the service does in the background after it is ready: until then, and for inputs shorter than a
window, the generator runs op by op. The frames after the last whole window also run op by op (with
the receptive radius of context on their left) unless they fill most of a window: padding a short
tail to a whole window would cost more than the graph saves.
"""
from __future__ import annotations

import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from .generator import Generator, receptive_radius

WINDOW = 128  # latent frames kept per window (2.56 s): 2 x 13 overlap frames cost 20% more work; 64 cost 40%
# A partial last window goes through the graph when it is at least this full, else op by op: per frame
# the graph measured ~0.7x the op-by-op time on the CPU, and a window costs WINDOW + 2 x overlap frames.
GRAPH_TAIL_FILL = 0.75


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
        self._generator = generator
        self._graph = GeneratorGraph(generator)
        self._hop = math.prod(generator.upsample_rates)
        self.window = window
        self.overlap = receptive_radius(generator.dims)
        self.ready = False  # compiled: set by `warm_up`

    def __call__(self, z: ms.Tensor, g: ms.Tensor) -> ms.Tensor:
        frames = z.shape[-1]
        windows = self.graph_windows(frames)
        if windows == 0:
            return self._generator(z, g)
        audio = self._windows(z, g, windows)
        tail = windows * self.window  # the first frame the windows did not cover
        if tail >= frames:
            return audio[:, :, :frames * self._hop]
        # The rest op by op, with the receptive radius of real frames on its left: exact.
        start = tail - self.overlap
        rest = self._generator(z[:, :, start:], g)[:, :, self.overlap * self._hop:]
        return ops.cat((audio, rest), axis=-1)

    def graph_windows(self, frames: int) -> int:
        """How many windows of `frames` go through the graph (the rest runs op by op)."""
        whole, partial = divmod(frames, self.window)
        return whole + (1 if partial >= GRAPH_TAIL_FILL * self.window else 0)

    def _windows(self, z: ms.Tensor, g: ms.Tensor, n_windows: int) -> ms.Tensor:
        """The audio of the first `n_windows * window` frames (zeros past the utterance)."""
        b, channels, frames = z.shape
        w, r = self.window, self.overlap
        span = n_windows * w + 2 * r
        latent = np.zeros((b, channels, span), np.float32)
        used = min(frames, span - r)
        latent[:, :, r:r + used] = z.asnumpy()[:, :, :used]
        mask = np.zeros((b, 1, span), np.float32)
        mask[:, :, r:r + used] = 1.0
        pieces = []
        for start in range(0, n_windows * w, w):  # `start` indexes `latent` at the window's left overlap
            end = start + w + 2 * r
            audio = self._graph(ms.Tensor(latent[:, :, start:end]), g, ms.Tensor(mask[:, :, start:end]))
            pieces.append(audio.asnumpy()[:, :, r * self._hop:(r + w) * self._hop])
        return ms.Tensor(np.concatenate(pieces, axis=-1))

    def warm_up(self, channels: int, gin_channels: int) -> None:
        """Compile the graph now (one window of zeros); `ready` from then on."""
        z = ms.Tensor(np.zeros((1, channels, self.window), np.float32))
        self._windows(z, ms.Tensor(np.zeros((1, gin_channels, 1), np.float32)), 1).asnumpy()
        self.ready = True
