"""The residual vector quantiser of the semantic tokens (one codebook of 1024 entries of width 768).

Parameter names follow the reference (`vq.layers.<i>._codebook.*`); the training buffers
`inited`, `cluster_size` and `embed_avg` are kept so checkpoints load strictly, but only `embed` is used.
"""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops

from ..layers import zeros_parameter


class Codebook(nn.Cell):
    def __init__(self, dim: int, bins: int):
        super().__init__()
        self.inited = zeros_parameter(1)
        self.cluster_size = zeros_parameter(bins)
        self.embed = zeros_parameter(bins, dim)
        self.embed_avg = zeros_parameter(bins, dim)

    def encode(self, x: ms.Tensor) -> ms.Tensor:
        """x [N, D] -> nearest codeword ids [N] (Euclidean, as the reference: max of -distance)."""
        dist = -(ops.sum(x * x, 1, keepdim=True) - 2 * ops.matmul(x, self.embed.T)
                 + ops.sum(self.embed * self.embed, 1).reshape(1, -1))
        return ops.argmax(dist, -1)

    def decode(self, ids: ms.Tensor) -> ms.Tensor:
        return ops.gather(self.embed, ids, 0)


class _CodebookHolder(nn.Cell):
    """`layers.<i>` of the reference is a VectorQuantization whose only state is `_codebook`."""

    def __init__(self, dim: int, bins: int):
        super().__init__()
        self._codebook = Codebook(dim, bins)


class _Layers(nn.Cell):
    def __init__(self, dim: int, bins: int, n_q: int):
        super().__init__()
        self.layers = nn.CellList([_CodebookHolder(dim, bins) for _ in range(n_q)])


class ResidualVectorQuantizer(nn.Cell):
    def __init__(self, dim: int = 768, n_q: int = 1, bins: int = 1024):
        super().__init__()
        self.vq = _Layers(dim, bins, n_q)

    def encode(self, x: ms.Tensor) -> ms.Tensor:
        """x [B, D, T] -> codes [n_q, B, T]: each stage quantises what the previous ones left."""
        b, d, t = x.shape
        residual = x.transpose(0, 2, 1).reshape(b * t, d)
        codes = []
        for holder in self.vq.layers:
            ids = holder._codebook.encode(residual)
            residual = residual - holder._codebook.decode(ids)
            codes.append(ids.reshape(b, t))
        return ops.stack(codes, 0)

    def decode(self, codes: ms.Tensor) -> ms.Tensor:
        """codes [n_q, B, T] -> the sum of the codewords [B, D, T]."""
        out = None
        for ids, holder in zip(codes, self.vq.layers):
            b, t = ids.shape
            vectors = holder._codebook.decode(ids.reshape(-1)).reshape(b, t, -1).transpose(0, 2, 1)
            out = vectors if out is None else out + vectors
        return out
