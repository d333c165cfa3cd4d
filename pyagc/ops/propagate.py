"""k-hop feature propagation with a (sparse CSR) operator: :math:`S^K X` and polynomial filters."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor


def _check_operand(adj: Tensor, x: Tensor) -> None:
    if not isinstance(adj, Tensor) or not isinstance(x, Tensor):
        raise TypeError("adj and x must be torch Tensors (adj sparse CSR or dense [N, N], "
                        "x dense [N, F]).")
    if x.dim() != 2:
        raise ValueError(f"x must have shape [num_nodes, num_features], got {list(x.shape)}.")
    if adj.dim() != 2 or adj.size(0) != adj.size(1) or adj.size(1) != x.size(0):
        raise ValueError(f"adj must be square with as many columns as x has rows; got adj "
                         f"{list(adj.shape)} and x {list(x.shape)}.")


def spmm(adj: Tensor, x: Tensor, out: Optional[Tensor] = None) -> Tensor:
    r""":math:`\mathbf{S}\mathbf{X}` written into ``out`` (allocated when ``None``).

    Goes through ``torch.addmm(..., beta=0)``, which on CPU reaches the MKL sparse kernel and
    lets callers ping-pong two buffers instead of allocating one ``[N, F]`` tensor per hop.
    """
    if out is None:
        out = torch.empty(adj.size(0), x.size(1), dtype=x.dtype, device=x.device)
    return torch.addmm(out, adj, x, beta=0.0, out=out)


def propagate(adj: Tensor, x: Tensor, K: int) -> Tensor:
    r""":math:`\mathbf{S}^K \mathbf{X}` by ``K`` sparse-dense products (``K=0`` returns ``x``).

    Shapes: ``adj [N, N]`` (``torch.sparse_csr`` preferred), ``x [N, F]`` -> ``[N, F]``.
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


def polynomial_filter(adj: Tensor, x: Tensor, coefficients: Sequence[float]) -> Tensor:
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
