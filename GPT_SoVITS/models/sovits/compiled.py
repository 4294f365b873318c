"""The HiFi-GAN generator as a compiled graph (`mindspore.jit`) over a fixed window of latent frames.

The generator is most of SoVITS decoding. Compiled, its ~400 kernels run from one graph, the form an
Ascend NPU needs. A graph is specialised to its input shape, so long inputs are decoded in windows of
one size: each window carries the generator's receptive radius of extra frames on both sides, frames
past the utterance are zeros under the generator's zero `mask`, and only each window's central audio
is kept. The result equals the op-by-op generator's to float32 noise.
The weights are the generator's own cells (shared).

Shorter inputs (a streaming chunk, a segment, the frames after the last whole window) run whole in the
smallest graph that holds them, a short one or the window's, zero-padded on the right under the mask,
which is exact too; where that graph would pad them by more than `MAX_PADDING` they run op by op. A
tail after the windows carries the receptive radius of real frames on its left, whose audio is dropped
again.

On the CPU (`runtime.dynamic_generator()`) one graph whose time axis is dynamic replaces them all
(`DynamicGenerator`): compiled once, it runs any length as it is, so nothing is padded or masked and an
utterance of up to `MAX_FRAMES` frames is decoded whole, with no overlap decoded twice (equal to op by
op); longer ones go in near-equal pieces with the receptive radius of context on their inner sides.

Used where `runtime.compiled_generator()` says so (by default). The service's background warm-up builds
the graphs one at a time; each is used once built, and what would need a graph not yet built runs op
by op.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from .generator import Generator, receptive_radius

WINDOW = 128  # latent frames kept per window (2.56 s): 2 x 13 overlap frames cost 20% more work; 64 cost 40%
# Input sizes (latent frames) of the short graphs: a streaming chunk (16 codes plus 2 of overlap: 36
# frames), segments of up to 1.6 and 2.56 s. Each costs seconds of compilation in the warm-up.
SHORT_GRAPHS = (40, 80, 128)
# A graph runs an input at most this many times its size (zero-padded), else it runs op by op: on the
# CPU a graph takes about three quarters of the op-by-op time of its own size, and op by op pays a fixed
# cost per call on top, so a graph still wins with a quarter of padding, not with much more.
MAX_PADDING = 1.25
# Latent frames the dynamic graph decodes in one go (10.24 s): a 10 s segment whole, its memory ~0.7 MB a
# frame on top of ~0.2 GB (1.1 GB peak for 500 frames against 1.24 GB for the four fixed graphs).
MAX_FRAMES = 512
COMPILE_FRAMES = 40  # the dynamic graph is compiled on an input this long (any length would do)


class GeneratorGraph(nn.Cell):
    def __init__(self, generator: Generator):
        super().__init__(auto_prefix=False)  # keep the generator's parameter names
        self.dec = generator

    @ms.jit
    def construct(self, x: ms.Tensor, g: ms.Tensor, mask: ms.Tensor) -> ms.Tensor:
        return self.dec(x, g, mask)


class DynamicGeneratorGraph(nn.Cell):
    """The generator as one graph for every input length (batch and time axes dynamic), without a mask."""

    def __init__(self, generator: Generator, channels: int, gin_channels: int):
        super().__init__(auto_prefix=False)  # keep the generator's parameter names
        self.dec = generator
        self.set_inputs(ms.Tensor(shape=[None, channels, None], dtype=ms.float32),
                        ms.Tensor(shape=[None, gin_channels, 1], dtype=ms.float32))

    @ms.jit
    def construct(self, x: ms.Tensor, g: ms.Tensor) -> ms.Tensor:
        return self.dec(x, g, None, True)


class DynamicGenerator:
    """`decoder(z [1, C, T], g) -> audio [1, 1, T * hop]` through one graph with a dynamic time axis, op by
    op until `compile` has built it.

    Up to `max_frames` frames run whole: the graph's zero padding at both ends is the reference's, so no
    mask is needed and the audio equals op by op's. A longer input is cut into n = ceil(T / max_frames)
    near-equal pieces; each decodes the generator's receptive radius R of real frames more on each inner
    side and keeps its own audio, so the kept samples never see a cut (float32 noise apart). Memory is
    that of max_frames + 2R frames whatever the length."""

    def __init__(self, generator: Generator, max_frames: int = MAX_FRAMES):
        self._generator = generator
        self._graph: DynamicGeneratorGraph | None = None
        self._hop = math.prod(generator.upsample_rates)
        self.max_frames = max_frames
        self.overlap = receptive_radius(generator.dims)

    @property
    def ready(self) -> bool:
        """The graph compiled."""
        return self._graph is not None

    def stages(self, channels: int, gin_channels: int) -> list[tuple[str, Callable[[], None]]]:
        """One `(name, build)`: the graph, for every length."""
        return [("any_length", lambda: self.compile(channels, gin_channels))]

    def compile(self, channels: int, gin_channels: int) -> None:
        """Build the graph now (on a short input of zeros): requests never compile."""
        graph = DynamicGeneratorGraph(self._generator, channels, gin_channels)
        zeros = lambda *shape: ms.Tensor(np.zeros(shape, np.float32))  # noqa: E731
        graph(zeros(1, channels, COMPILE_FRAMES), zeros(1, gin_channels, 1)).asnumpy()
        self._graph = graph

    def __call__(self, z: ms.Tensor, g: ms.Tensor) -> ms.Tensor:
        graph = self._graph
        if graph is None:
            return self._generator(z, g, None, True)
        frames = z.shape[-1]
        if frames <= self.max_frames:
            return graph(z, g)
        latent = z.asnumpy()
        n_pieces = -(-frames // self.max_frames)
        bounds = [frames * i // n_pieces for i in range(n_pieces + 1)]
        pieces = []
        for start, end in zip(bounds[:-1], bounds[1:]):
            left, right = max(0, start - self.overlap), min(frames, end + self.overlap)
            audio = graph(ms.Tensor(np.ascontiguousarray(latent[:, :, left:right])), g).asnumpy()
            pieces.append(audio[:, :, (start - left) * self._hop:(end - left) * self._hop])
        return ms.Tensor(np.concatenate(pieces, axis=-1))


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

    def stages(self, channels: int, gin_channels: int) -> list[tuple[str, Callable[[], None]]]:
        """One `(name, build)` per graph, the window's first."""
        return [(f"{size}_frames", lambda size=size: self.compile(size, channels, gin_channels))
                for size in self.graph_sizes()]

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
        span = self.graph_sizes()[0]
        if frames <= span or span not in self._built:
            return self._whole(z, g)
        windows = frames // self.window
        audio = self._windows(z, g, windows)
        tail = windows * self.window  # the first frame the windows did not cover
        if tail == frames:
            return audio
        # The rest at once, with the receptive radius of real frames on its left: exact.
        start = tail - self.overlap
        rest = self._whole(z[:, :, start:], g)[:, :, self.overlap * self._hop:]
        return ops.cat((audio, rest), axis=-1)

    def whole_graph(self, frames: int) -> int | None:
        """The graph an input of `frames` runs whole in: the smallest that holds it with at most
        `MAX_PADDING` (None: op by op; longer than the window's graph, an input goes by windows)."""
        return min((size for size in self.graph_sizes() if frames <= size <= MAX_PADDING * frames), default=None)

    def _whole(self, z: ms.Tensor, g: ms.Tensor) -> ms.Tensor:
        """All of `z` in one go: through its `whole_graph` once that is built, else op by op."""
        b, channels, frames = z.shape
        size = self.whole_graph(frames)
        if size is None or size not in self._built:
            return self._generator(z, g, None, True)
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
