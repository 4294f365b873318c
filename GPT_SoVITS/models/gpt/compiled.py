"""The single-token decoding step as one compiled graph (`mindspore.jit`), compiled once per capacity.

Op by op, a 24-layer step launches ~400 kernels from Python; compiled, the same kernels run from one
graph, several times faster on a CPU and the form an Ascend NPU needs. The graph owns the key/value buffers as
Parameters `[heads, capacity, head_dim]` and writes each new position in place by adding it into its
still-zero slot (`IndexAdd` on the position axis; 0 + x is x). On the CPU that is the cheapest write
measured: `ScatterNdUpdate` copies the whole buffer to its output every step, and `ScatterUpdate`
writes only along the first axis, whose layout needs a copying reshape per read. The position
and the additive mask are inputs, so no length ever triggers a recompile. Capacities are rounded up to
`CAPACITY_BUCKET`, so utterances of similar length share one graph. A step reads its whole buffers,
masked positions included (a step's time grows with the capacity), so decoding starts in the
smallest graph that holds the prompt and moves to the next one when it fills (copying the cache once).
The weights are the model's own cells (shared, not copied).
"""
from __future__ import annotations

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ..layers import zeros_parameter
from .cache import KVCache

# Positions; one graph per multiple that decoding reaches (seconds of compilation each). The first holds a
# 3-5 s clip's prompt (~75-125 codes) plus its phones and a short segment's answer.
CAPACITY_BUCKET = 256


def bucketed(capacity: int) -> int:
    return -(-capacity // CAPACITY_BUCKET) * CAPACITY_BUCKET


class StepGraph(nn.Cell):
    """`step(token [1] int64, sine [1, dim], position [1] int32, bias [capacity]) -> logits [1, vocab]`
    with in-place cache. The token is embedded in the graph as `embed_audio` does (`sine` is its
    position's code). Every slot from `position` on must hold zeros: `load` leaves them so."""

    def __init__(self, model: nn.Cell, capacity: int):
        super().__init__(auto_prefix=False)  # the shared layers keep the model's parameter names
        cfg = model.cfg
        self.embed = model.ar_audio_embedding
        self.alpha = model.ar_audio_position.alpha
        self.layers = model.h.layers
        self.predict = model.ar_predict_layer
        shape = (cfg.num_heads, capacity, cfg.head_dim)
        self.keys = ms.ParameterTuple([zeros_parameter(*shape, name=f"step_cache.k{i}", requires_grad=False)
                                       for i in range(cfg.num_layers)])
        self.values = ms.ParameterTuple([zeros_parameter(*shape, name=f"step_cache.v{i}", requires_grad=False)
                                         for i in range(cfg.num_layers)])
        self.capacity = capacity
        self._write = ops.IndexAdd(axis=1)

    @ms.jit
    def construct(self, token: ms.Tensor, sine: ms.Tensor, position: ms.Tensor, bias: ms.Tensor) -> ms.Tensor:
        x = self.embed(token) + self.alpha * sine
        for i in range(len(self.layers)):
            layer = self.layers[i]
            q, k, v = layer.self_attn.qkv(x)
            # Read the Parameters after the writes (`depend`), not the writes' outputs: an output is a
            # second buffer the CPU kernel would fill with a copy of the whole cache.
            keys = ops.depend(self.keys[i], self._write(self.keys[i], position, k))
            values = ops.depend(self.values[i], self._write(self.values[i], position, v))
            x = layer._finish(x, layer.self_attn.attend(q, keys, values, bias))
        return self.predict(x)

    def load(self, keys: list[ms.Tensor], values: list[ms.Tensor], length: int) -> None:
        """Copy the first `length` positions of other buffers (the prefill's, or a smaller graph's).

        Written with an Assign op, not `Parameter.set_data`: once the graph has run, set_data no longer
        reaches the buffers the compiled graph reads, and the next utterance decoded against the
        previous one's keys and values (tests/models/test_gpt_reuse.py)."""
        for params, sources in ((self.keys, keys), (self.values, values)):
            for param, source in zip(params, sources):
                buffer = np.zeros(param.shape, np.float32)
                buffer[:, :length] = source.asnumpy()[:, :length]
                ops.assign(param, ms.Tensor(buffer))


class CompiledDecoding:
    """Per-model store of step graphs by capacity, and the bookkeeping of which cache each one holds."""

    def __init__(self, model: nn.Cell):
        self._model = model
        self._graphs: dict[int, StepGraph] = {}

    def step(self, token: int, sine: np.ndarray, cache: KVCache) -> ms.Tensor:
        position = cache.length
        capacity = bucketed(position + 1)
        graph = getattr(cache, "graph", None)
        if graph is None or graph.capacity < position + 1:
            source = (cache.keys, cache.values) if graph is None else (list(graph.keys), list(graph.values))
            graph = self._graph(capacity)
            graph.load(*source, position)
            cache.graph = graph
        cache.length += 1
        bias = np.full(graph.capacity, -np.inf, np.float32)
        bias[: cache.length] = 0.0
        return graph(ms.Tensor(np.array([token], np.int64)), ms.Tensor(sine),
                     ms.Tensor(np.array([position], np.int32)), ms.Tensor(bias))

    def warm_up(self, capacities: tuple[int, ...]) -> None:
        """Compile the graphs of these capacities now (one throw-away step each), so that a request
        does not pay for the compilation. The buffers they dirty are reloaded whole before any use."""
        dim = self._model.cfg.hidden_dim
        for capacity in sorted({bucketed(c) for c in capacities}):
            graph = self._graph(capacity)
            bias = np.full(capacity, -np.inf, np.float32)
            bias[0] = 0.0
            graph(ms.Tensor(np.zeros(1, np.int64)), ms.Tensor(np.zeros((1, dim), np.float32)),
                  ms.Tensor(np.zeros(1, np.int32)), ms.Tensor(bias)).asnumpy()

    def _graph(self, capacity: int) -> StepGraph:
        if capacity not in self._graphs:
            self._graphs[capacity] = StepGraph(self._model, capacity)
        return self._graphs[capacity]
