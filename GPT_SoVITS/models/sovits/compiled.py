"""The HiFi-GAN generator as a compiled graph (`mindspore.jit`) over a fixed window of latent frames.

The generator is ~90% of SoVITS decoding. Compiled, its ~400 kernels run from one graph, the form an
Ascend NPU needs. A graph is specialised to its input shape, so long inputs are decoded in windows of
one size: each window carries the generator's receptive radius of
extra frames on both sides, frames past the utterance are zeros under the generator's zero `mask`, and
only each window's central audio is kept. The result equals the op-by-op generator's to float32 noise.
The weights are the generator's own cells (shared).

Short inputs (a streaming chunk, a short segment, the frames after the last whole window) run whole in
the smallest of a few short graphs that holds them, zero-padded on the right under the mask, which is
exact too; an input longer than those but shorter than most of a window runs op by op: padding it to a
whole window would cost more than the graph saves. A tail after the windows carries the receptive
radius of real frames on its left, whose audio is dropped again.

Used where `runtime.compiled_generator()` says so (by default). The service's background warm-up builds
the graphs one at a time; each is used once built, and what would need a graph not yet built runs op
by op.
"""
from __future__ import annotations

import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from .generator import Generator, receptive_radius

WINDOW = 128  # latent frames kept per window (2.56 s): 2 x 13 overlap frames cost 20% more work; 64 cost 40%
# A partial last window goes through the window graph when it is at least this full, else it runs at once
# (`_whole`: a short graph, or op by op): per frame the graph measured ~0.7x the op-by-op time on the
# CPU, and a window costs WINDOW + 2 x overlap frames.
GRAPH_TAIL_FILL = 0.75
# Input sizes (latent frames) of the short graphs. A streaming chunk at the default 16 codes plus 2 of
# overlap is 36 frames; measured at full size on the CPU, 32 frames took 480 ms op by op and 275 ms in the
# 40-frame graph (330 ms in a 48-frame one). Each graph costs ~2 s of compilation in the warm-up.
SHORT_GRAPHS = (40, 80)


class GeneratorGraph(nn.Cell):
    def __init__(self, generator: Generator):
        super().__init__(auto_prefix=False)  # keep the generator's parameter names
        self.dec = generator

    @ms.jit
    def construct(self, x: ms.Tensor, g: ms.Tensor, mask: ms.Tensor) -> ms.Tensor:
        return self.dec(x, g, mask)


class WindowedGenerator:
    """`decoder(z [1, C, T], g) -> audio [1, 1, T * hop]`, window by window through one compiled graph
    (and a short graph or op by op for what is left; see the module docstring).

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
        self._built: set[int] = set()  # input sizes whose graph is compiled; each is used once it is

    @property
    def ready(self) -> bool:
        """Every graph compiled."""
        return set(self.graph_sizes()) <= self._built

    def graph_sizes(self) -> tuple[int, ...]:
        """The input sizes (latent frames) of the graphs: a window with its overlaps, the short ones."""
        return (self.window + 2 * self.overlap, *SHORT_GRAPHS)

    def compile(self, size: int, channels: int, gin_channels: int) -> None:
        """Build the graph of one of `graph_sizes()` now (an input of zeros): requests never compile."""
        zeros = lambda *shape: ms.Tensor(np.zeros(shape, np.float32))  # noqa: E731
        self._graph(zeros(1, channels, size), zeros(1, gin_channels, 1), zeros(1, 1, size)).asnumpy()
        self._built.add(size)

    def warm_up(self, channels: int, gin_channels: int) -> None:
        """Build every graph now."""
        for size in self.graph_sizes():
            self.compile(size, channels, gin_channels)

    def __call__(self, z: ms.Tensor, g: ms.Tensor) -> ms.Tensor:
        frames = z.shape[-1]
        windows = self.graph_windows(frames) if self.graph_sizes()[0] in self._built else 0
        if windows == 0:
            return self._whole(z, g)
        audio = self._windows(z, g, windows)
        tail = windows * self.window  # the first frame the windows did not cover
        if tail >= frames:
            return audio[:, :, :frames * self._hop]
        # The rest at once, with the receptive radius of real frames on its left: exact.
        start = tail - self.overlap
        rest = self._whole(z[:, :, start:], g)[:, :, self.overlap * self._hop:]
        return ops.cat((audio, rest), axis=-1)

    def graph_windows(self, frames: int) -> int:
        """How many windows of `frames` go through the window graph (the rest runs at once)."""
        whole, partial = divmod(frames, self.window)
        return whole + (1 if partial >= GRAPH_TAIL_FILL * self.window else 0)

    def short_graph(self, frames: int) -> int | None:
        """The size of the short graph made for an input of `frames` (None: too long for any)."""
        return next((size for size in SHORT_GRAPHS if size >= frames), None)

    def _whole(self, z: ms.Tensor, g: ms.Tensor) -> ms.Tensor:
        """All of `z` in one go: through the smallest short graph that holds it, else op by op."""
        b, channels, frames = z.shape
        size = self.short_graph(frames)
        if size is None or size not in self._built:
            return self._generator(z, g)
        latent = np.zeros((b, channels, size), np.float32)
        latent[:, :, :frames] = z.asnumpy()
        mask = np.zeros((b, 1, size), np.float32)
        mask[:, :, :frames] = 1.0
        return self._graph(ms.Tensor(latent), g, ms.Tensor(mask))[:, :, :frames * self._hop]

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
