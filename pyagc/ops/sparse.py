"""Products with a constant sparse CSR matrix whose transpose is built once.

torch's own backward of ``torch.sparse.mm(A, X)`` (CSR ``A``) builds :math:`\\mathbf{A}^\\top`
afresh on every call: a conversion to COO, a sort of all the entries and a conversion back.
Full-batch training multiplies by the same matrices every epoch (the normalised adjacency, a
bag-of-words feature matrix, a flow matrix), so :func:`csr_matmul` takes the transpose from the
caller, who builds it once (:func:`transpose_csr`) and keeps it with the matrix.
"""
from __future__ import annotations

import warnings
from typing import Optional

import torch
from torch import Tensor

__all__ = ["transpose_csr", "csr_matmul"]


def transpose_csr(adj: Tensor) -> Tensor:
    """:math:`\\mathbf{A}^\\top` of a ``torch.sparse_csr`` matrix, as CSR."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sparse CSR is beta
        return adj.t().to_sparse_csr()


class _CSRMatmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, adj: Tensor, adj_t: Tensor, dense: Tensor) -> Tensor:
        ctx.adj_t = adj_t
        return torch.sparse.mm(adj, dense)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return None, None, torch.sparse.mm(ctx.adj_t, grad)


def csr_matmul(adj: Tensor, dense: Tensor, adj_t: Optional[Tensor] = None) -> Tensor:
    """``adj @ dense`` for a constant CSR ``adj`` ``[n, m]`` and a dense ``[m, k]`` ->
    ``[n, k]``; the gradient w.r.t. ``dense`` is ``adj_t @ grad`` with ``adj_t`` the given
    transpose of ``adj`` (built here, once per call, when ``None``). An ``adj`` that requires
    grad goes through torch's own product."""
    if adj.requires_grad or not dense.requires_grad:
        return torch.sparse.mm(adj, dense)
    return _CSRMatmul.apply(adj, transpose_csr(adj) if adj_t is None else adj_t, dense)
