"""Sparse forms of an encoder's node features: bag-of-words ``x`` as CSR, and row
permutations that work on dense and CSR matrices alike.

A GCN's first ``Linear`` on a CSR ``x`` costs ``O(nnz * width)`` instead of
``O(N * F * width)``; :class:`~pyagc.encoders.TunedGCN` converts (and caches) its features with
:func:`to_sparse_features` and shuffles them, for DGI's corruption, with :func:`permute_rows`.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["to_sparse_features", "select_rows", "permute_rows", "first_rows"]


def to_sparse_features(x: Tensor, max_density: float = 0.05) -> Tensor:
    """``x`` as a CSR tensor when at most ``max_density`` of its entries are non-zero, else
    ``x`` itself."""
    if x.layout != torch.strided or x.dim() != 2 or x.numel() == 0:
        return x
    density = int(torch.count_nonzero(x)) / x.numel()
    return x.to_sparse_csr() if density <= max_density else x


def select_rows(x: Tensor, index: Tensor) -> Tensor:
    """``x[index]`` ``[len(index), F]`` for a dense or a CSR matrix (CSR tensors cannot be
    indexed by rows): a permutation (DGI's corruption) or any selection of rows, repeats
    allowed (a layer-wise inference block's nodes)."""
    if x.layout != torch.sparse_csr:
        return x.index_select(0, index)  # 2-3x faster than x[index] for a long index on CPU
    crow, col, val = x.crow_indices(), x.col_indices(), x.values()
    counts = (crow[1:] - crow[:-1])[index]
    new_crow = crow.new_zeros(index.numel() + 1)
    torch.cumsum(counts, 0, out=new_crow[1:])
    # Position k of new row r reads old position crow[index[r]] + (k - new_crow[r]).
    shift = torch.repeat_interleave(crow[:-1][index] - new_crow[:-1], counts,
                                    output_size=int(new_crow[-1]))
    gather = torch.arange(shift.numel(), device=x.device) + shift
    return torch.sparse_csr_tensor(new_crow, col[gather], val[gather],
                                   (index.numel(), x.size(1)))


#: The name DGI's corruption uses: a row permutation is a selection of every row.
permute_rows = select_rows


def first_rows(x: Tensor, num_rows: int) -> Tensor:
    """``x[:num_rows]`` for a dense or a CSR matrix (CSR tensors cannot be sliced); ``x``
    itself when it has at most ``num_rows`` rows (no slice, whose backward pass would
    allocate and fill a zero gradient of ``x``'s size and copy into it)."""
    if num_rows >= x.size(0):
        return x
    if x.layout != torch.sparse_csr:
        return x[:num_rows]
    num_rows = min(int(num_rows), x.size(0))
    crow = x.crow_indices()[:num_rows + 1]
    end = int(crow[-1])
    return torch.sparse_csr_tensor(crow, x.col_indices()[:end], x.values()[:end],
                                   (num_rows, x.size(1)))
