"""Products with a constant sparse CSR matrix whose transpose is built once.

torch's own backward of ``torch.sparse.mm(A, X)`` (CSR ``A``) builds :math:`\\mathbf{A}^\\top`
afresh on every call: a conversion to COO, a sort of all the entries and a conversion back.
Full-batch training multiplies by the same matrices every epoch (the normalised adjacency, a
bag-of-words feature matrix, a flow matrix), so :func:`csr_matmul` takes the transpose from the
caller, who builds it once (:func:`transpose_csr`) and keeps it with the matrix.

Products on a fixed sparsity pattern whose *values* are learned (graph attention weights) or
whose *outputs* are wanted only at the pattern (an inner-product decoder's edge scores):
:func:`csr_pattern` sorts the pairs once into CSR order with their transpose, and
:func:`pattern_spmm` (``A(values) @ X``) and :func:`pattern_sddmm` (``<a_i, b_j>`` for the pairs)
run as fused sparse kernels in both directions, one being the other's backward pass, instead
of gathering ``[nnz, d]`` rows, multiplying and scattering them back.
"""
from __future__ import annotations

import warnings
from typing import NamedTuple, Optional, Tuple

import torch
from torch import Tensor

__all__ = ["transpose_csr", "csr_matmul", "CSRPattern", "csr_pattern", "pattern_spmm",
           "pattern_sddmm"]


def transpose_csr(adj: Tensor) -> Tensor:
    """:math:`\\mathbf{A}^\\top` of a ``torch.sparse_csr`` matrix, as CSR."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sparse CSR is beta
        return adj.t().to_sparse_csr()


def _spmm(adj: Tensor, dense: Tensor) -> Tensor:
    """``adj @ dense`` for a CSR ``adj``, outside autograd. On CPU the product is written
    into an uninitialised result (``addmm`` with ``beta=0``, which never reads it):
    ``torch.sparse.mm`` zero-fills its result and copies it once more, ~40% of the time of
    a Cora-sized product (2708 x 2708 graph, 512 columns: 0.88 ms against 1.48 ms)."""
    if adj.device.type != "cpu" or adj.layout != torch.sparse_csr:
        return torch.sparse.mm(adj, dense)
    out = dense.new_empty(adj.size(0), dense.size(1))
    return torch.addmm(out, adj, dense, beta=0, out=out)


class _CSRMatmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, adj: Tensor, adj_t: Tensor, dense: Tensor) -> Tensor:
        ctx.adj_t = adj_t
        return _spmm(adj, dense)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return None, None, _spmm(ctx.adj_t, grad)


def csr_matmul(adj: Tensor, dense: Tensor, adj_t: Optional[Tensor] = None) -> Tensor:
    """``adj @ dense`` for a constant CSR ``adj`` ``[n, m]`` and a dense ``[m, k]`` ->
    ``[n, k]``; the gradient w.r.t. ``dense`` is ``adj_t @ grad`` with ``adj_t`` the given
    transpose of ``adj`` (built here, once per call, when ``None``). An ``adj`` that requires
    grad goes through torch's own product."""
    if adj.requires_grad:
        return torch.sparse.mm(adj, dense)
    if not dense.requires_grad:
        return _spmm(adj, dense)
    return _CSRMatmul.apply(adj, transpose_csr(adj) if adj_t is None else adj_t, dense)


class CSRPattern(NamedTuple):
    """A fixed set of ``nnz`` pairs ``(row, col)`` of an ``[n, m]`` matrix in CSR order, with
    its transpose, built once by :func:`csr_pattern` and reused by :func:`pattern_spmm` and
    :func:`pattern_sddmm` (and by their backward passes, which need the transpose).

    ``order[p]`` is the input pair stored at CSR position ``p`` and ``inverse`` its inverse
    (``values_in_csr_order = values[order]``, ``values_in_input_order = csr_values[inverse]``);
    ``perm_t[q]`` is the CSR position of the ``q``-th entry of the transpose.
    """
    crow: Tensor
    col: Tensor
    order: Tensor
    inverse: Tensor
    crow_t: Tensor
    col_t: Tensor
    perm_t: Tensor
    shape: Tuple[int, int]

    def matrix(self, values: Tensor) -> Tensor:
        """The ``[n, m]`` CSR matrix with ``values`` (CSR order) at the pattern."""
        return csr_tensor(self.crow, self.col, values, self.shape)

    def matrix_t(self, values: Tensor) -> Tensor:
        """The ``[m, n]`` CSR transpose of :meth:`matrix` ``(values)``."""
        return csr_tensor(self.crow_t, self.col_t, values[self.perm_t],
                    (self.shape[1], self.shape[0]))


def csr_tensor(crow: Tensor, col: Tensor, values: Tensor, shape: Tuple[int, int]) -> Tensor:
    """A CSR tensor from valid parts, without torch's beta warning or invariant checks."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sparse CSR is beta
        # Valid by construction (the callers'), so torch's invariant checks are skipped.
        return torch.sparse_csr_tensor(crow, col, values, shape, check_invariants=False)


def _row_pointers(rows: Tensor, num_rows: int) -> Tensor:
    counts = torch.bincount(rows, minlength=num_rows)
    return torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])


def csr_pattern(row: Tensor, col: Tensor, num_rows: int, num_cols: int) -> CSRPattern:
    """The :class:`CSRPattern` of the pairs ``(row[e], col[e])`` (any order, repeats kept) of
    an ``[num_rows, num_cols]`` matrix: two stable sorts of the ``nnz`` keys, ``O(nnz log
    nnz)``."""
    if row.shape != col.shape or row.dim() != 1:
        raise ValueError(f"row and col must be 1-D of the same length, got {list(row.shape)} "
                         f"and {list(col.shape)}.")
    if row.numel() and (int(row.min()) < 0 or int(row.max()) >= num_rows
                        or int(col.min()) < 0 or int(col.max()) >= num_cols):
        raise ValueError(f"Pairs out of range for a [{num_rows}, {num_cols}] matrix.")
    row, col = row.long(), col.long()
    order = torch.sort(row * num_cols + col, stable=True).indices
    row_s, col_s = row[order], col[order]
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(order.numel(), device=order.device)
    perm_t = torch.sort(col_s * num_rows + row_s, stable=True).indices
    return CSRPattern(_row_pointers(row_s, num_rows), col_s, order, inverse,
                      _row_pointers(col_s, num_cols), row_s[perm_t], perm_t,
                      (int(num_rows), int(num_cols)))


def _sddmm(pattern: CSRPattern, a: Tensor, b: Tensor) -> Tensor:
    """``a[row_p] . b[col_p]`` for every CSR position ``p`` (fused: no ``[nnz, d]`` tensor).
    Repeated pairs can make ``nnz`` exceed ``n * m``, which torch's ``sampled_addmm``
    refuses; the dense ``[n, m]`` product is then the smaller one and is gathered instead."""
    n, m = pattern.shape
    if pattern.col.numel() > n * m:
        rows = torch.repeat_interleave(torch.arange(n, device=pattern.col.device),
                                       pattern.crow.diff())
        return (a @ b.t())[rows, pattern.col]
    ones = a.new_ones(pattern.col.numel())
    return torch.sparse.sampled_addmm(pattern.matrix(ones), a.contiguous(),
                                      b.t(),
                                      beta=0.0).values()


class _PatternSpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values: Tensor, dense: Tensor, pattern: CSRPattern) -> Tensor:
        values, dense = values.contiguous(), dense.contiguous()
        ctx.pattern = pattern
        ctx.save_for_backward(values, dense)
        return torch.sparse.mm(pattern.matrix(values), dense)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        values, dense = ctx.saved_tensors
        pattern, grad = ctx.pattern, grad.contiguous()
        grad_values = _sddmm(pattern, grad, dense) if ctx.needs_input_grad[0] else None
        grad_dense = (torch.sparse.mm(pattern.matrix_t(values), grad)
                      if ctx.needs_input_grad[1] else None)
        return grad_values, grad_dense, None


class _PatternSDDMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, pattern: CSRPattern) -> Tensor:
        a, b = a.contiguous(), b.contiguous()
        ctx.pattern = pattern
        ctx.save_for_backward(a, b)
        return _sddmm(pattern, a, b)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        a, b = ctx.saved_tensors
        pattern = ctx.pattern
        grad_a = (torch.sparse.mm(pattern.matrix(grad), b)
                  if ctx.needs_input_grad[0] else None)
        grad_b = (torch.sparse.mm(pattern.matrix_t(grad), a)
                  if ctx.needs_input_grad[1] else None)
        return grad_a, grad_b, None


def pattern_spmm(pattern: CSRPattern, values: Tensor, dense: Tensor) -> Tensor:
    r"""``A @ dense`` ``[n, d]`` for the CSR matrix ``A`` with ``values`` ``[nnz]`` (CSR
    order, i.e. ``input_values[pattern.order]``) at ``pattern`` and ``dense`` ``[m, d]``,
    differentiable in both: :math:`\partial/\partial\,\mathrm{dense} = A^\top G` (the cached
    transpose) and :math:`\partial/\partial a_{rc} = \langle G_r, \mathrm{dense}_c\rangle`
    (a sampled dense-dense product). Equals the edge-wise gather / multiply / scatter-add
    of message passing up to float rounding, without its ``[nnz, d]`` intermediates."""
    return _PatternSpMM.apply(values, dense, pattern)


def pattern_sddmm(pattern: CSRPattern, a: Tensor, b: Tensor) -> Tensor:
    r"""``(a[row_e] * b[col_e]).sum(-1)`` for every pair ``e`` of ``pattern``, in the input
    order of :func:`csr_pattern`, ``[nnz]``, for ``a`` ``[n, d]`` and ``b`` ``[m, d]``;
    differentiable in both (:math:`\partial/\partial a = G\,b`,
    :math:`\partial/\partial b = G^\top a` with ``G`` the gradient at the pattern). The
    inner-product decoder's edge scores, without ``[nnz, d]`` gathers."""
    return _PatternSDDMM.apply(a, b, pattern)[pattern.inverse]
