"""k-hop feature propagation with a (sparse CSR) operator: :math:`S^K X` and polynomial filters.

Cache blocking on CPU. A sparse-dense product :math:`\\mathbf{S}\\mathbf{X}` reads one row of
:math:`\\mathbf{X}` per nonzero at a random position; once :math:`\\mathbf{X}` is much larger
than the cache, almost every read misses. :class:`ColumnSlabs` cuts :math:`\\mathbf{S}` into
column slabs so that each slab reads only a band of ``X``'s rows that stays in cache
(:math:`\\mathbf{S}\\mathbf{X} = \\sum_s \\mathbf{S}_{:,s}\\mathbf{X}_{s,:}`), at the price of
streaming the output once per slab. :func:`spmm`, :func:`propagate` and
:func:`polynomial_filter` multiply with either form; :func:`pyagc.ops.normalized_operator` builds the slabs directly
for CPU operands larger than :data:`SLAB_BYTES` twice over (:func:`slab_count`), while
smaller inputs (Cora, CiteSeer, ...) keep the single CSR, unchanged.
"""
from __future__ import annotations

import math
from typing import List, NamedTuple, Optional, Sequence, Union

import torch
from torch import Tensor

#: Bytes of ``X`` rows one column slab reads (:class:`ColumnSlabs`). Measured on the
#: Products-like graph (2,449,029 nodes, 124M nonzeros, 100 float32 columns = 980 MB), one
#: thread, CPU seconds of one product: plain CSR 9.65; 8 slabs (122 MB each) 6.14; 16 slabs
#: (61 MB) 5.04; 32 slabs (31 MB) 6.06. At 500,000 nodes (200 MB), two threads: plain 2.18 s,
#: 4 slabs 1.24, 6 slabs 1.17, 8 slabs 1.21, 16 slabs 1.62.
SLAB_BYTES = 64 * 2 ** 20


class ColumnSlabs(NamedTuple):
    """A sparse ``[n, m]`` matrix stored as CSR column slabs: ``parts[s]`` is the ``[n,
    bounds[s+1] - bounds[s]]`` CSR block of columns ``bounds[s]:bounds[s+1]``. Built by
    :func:`pyagc.ops.normalized_operator`; :func:`spmm` multiplies with it."""
    parts: List[Tensor]
    bounds: List[int]
    shape: tuple

    def size(self, dim: Optional[int] = None):
        return self.shape if dim is None else self.shape[dim]

    @property
    def dtype(self) -> torch.dtype:
        return self.parts[0].dtype

    @property
    def device(self) -> torch.device:
        return self.parts[0].device

    def dim(self) -> int:
        return 2


Operator = Union[Tensor, ColumnSlabs]


def slab_count(num_rows: int, num_cols: int, dtype: torch.dtype, hops: int,
               device: Union[str, torch.device, None] = None) -> int:
    """How many :class:`ColumnSlabs` an operator multiplying ``hops`` times an operand
    ``[num_rows, num_cols]`` of ``dtype`` on ``device`` should have: 0 (use one CSR) on GPU,
    below two hops or for operands up to twice :data:`SLAB_BYTES`; else about one slab per
    :data:`SLAB_BYTES` of operand rows."""
    if torch.device("cpu" if device is None else device).type != "cpu" or hops < 2:
        return 0
    operand_bytes = int(num_rows) * int(num_cols) * torch.empty((), dtype=dtype).element_size()
    if operand_bytes <= 2 * SLAB_BYTES:
        return 0
    return min(math.ceil(operand_bytes / SLAB_BYTES), 2 ** 15 - 1, int(num_rows))


def _check_operand(adj: Operator, x: Tensor) -> None:
    if not isinstance(adj, (Tensor, ColumnSlabs)) or not isinstance(x, Tensor):
        raise TypeError("adj and x must be torch Tensors (adj sparse CSR or dense [N, N], "
                        "x dense [N, F]).")
    if x.dim() != 2:
        raise ValueError(f"x must have shape [num_nodes, num_features], got {list(x.shape)}.")
    if adj.dim() != 2 or adj.size(0) != adj.size(1) or adj.size(1) != x.size(0):
        raise ValueError(f"adj must be square with as many columns as x has rows; got adj "
                         f"{list(adj.size())} and x {list(x.shape)}.")


def spmm(adj: Operator, x: Tensor, out: Optional[Tensor] = None) -> Tensor:
    r""":math:`\mathbf{S}\mathbf{X}` written into ``out`` (allocated when ``None``).

    Goes through ``torch.addmm(..., beta=0)``, which on CPU reaches the MKL sparse kernel and
    lets callers ping-pong two buffers instead of allocating one ``[N, F]`` tensor per hop.
    ``adj`` may be :class:`ColumnSlabs` (one product per slab, accumulated into ``out``).
    """
    if out is None:
        out = torch.empty(adj.size(0), x.size(1), dtype=x.dtype, device=x.device)
    if isinstance(adj, ColumnSlabs):
        x = x.contiguous()
        for s, part in enumerate(adj.parts):
            torch.addmm(out, part, x[adj.bounds[s]:adj.bounds[s + 1]],
                        beta=0.0 if s == 0 else 1.0, out=out)
        return out
    return torch.addmm(out, adj, x, beta=0.0, out=out)


def propagate(adj: Operator, x: Tensor, K: int) -> Tensor:
    r""":math:`\mathbf{S}^K \mathbf{X}` by ``K`` sparse-dense products (``K=0`` returns ``x``).

    Shapes: ``adj [N, N]`` (``torch.sparse_csr`` preferred, or :class:`ColumnSlabs`),
    ``x [N, F]`` -> ``[N, F]``.
    """
    if not isinstance(K, int) or isinstance(K, bool) or K < 0:
        raise ValueError(f"K must be a non-negative integer number of hops, got {K!r}.")
    _check_operand(adj, x)
    x = x.to(adj.dtype)
    if K == 0:
        return x
    buffers = [torch.empty(x.shape, dtype=x.dtype, device=x.device),
               torch.empty(x.shape, dtype=x.dtype, device=x.device) if K > 1 else None]
    for k in range(K):
        out = buffers[k % 2]
        x = spmm(adj, x, out)
    return x


def polynomial_filter(adj: Operator, x: Tensor, coefficients: Sequence[float]) -> Tensor:
    r""":math:`\sum_{k=0}^{K} c_k \mathbf{S}^k \mathbf{X}` with ``coefficients = [c_0, ..., c_K]``.

    Streams over the hops, so memory is three ``[N, F]`` buffers whatever ``K``.
    Shapes: ``adj [N, N]``, ``x [N, F]`` -> ``[N, F]``.
    """
    coefficients = [float(c) for c in coefficients]
    if not coefficients:
        raise ValueError("coefficients must hold at least c_0.")
    _check_operand(adj, x)
    cur = x.to(adj.dtype)
    out = cur * coefficients[0]
    buffers = [torch.empty_like(cur), torch.empty_like(cur)] if len(coefficients) > 1 else []
    for k, c in enumerate(coefficients[1:]):
        cur = spmm(adj, cur, buffers[k % 2])
        if c != 0.0:
            out.add_(cur, alpha=c)
    return out
