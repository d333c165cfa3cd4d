"""Weighted node degrees from an edge list or a CSR adjacency."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

__all__ = ["degree"]


def degree(edge_index: Tensor, num_nodes: int, edge_weight: Optional[Tensor] = None,
           dtype: torch.dtype = torch.float32) -> Tensor:
    r"""Weighted in-degrees :math:`d_i = \sum_{j \to i} w_{ji}`, shape ``[num_nodes]``.

    ``edge_index`` is a ``[2, E]`` edge list (``edge_weight`` ``[E]``, default all ones; the
    degree counts edges by target ``edge_index[1]``, PyG's ``source_to_target`` flow) or a
    ``torch.sparse_csr`` ``adj_t`` ``[N, N]`` (rows are targets; its values are the weights and
    ``edge_weight`` must be None). For an undirected graph stored with both directions these
    are the usual degrees and :math:`\sum_i d_i = 2m`. Cost :math:`O(N + E)`.
    """
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}.")
    if edge_index.layout == torch.sparse_csr:
        if edge_weight is not None:
            raise ValueError("A CSR adjacency carries its own weights; pass edge_weight=None.")
        crow = edge_index.crow_indices()
        rows = torch.repeat_interleave(torch.arange(crow.numel() - 1, device=crow.device),
                                       crow[1:] - crow[:-1])
        return torch.zeros(num_nodes, dtype=dtype, device=crow.device).index_add_(
            0, rows, edge_index.values().to(dtype))
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {list(edge_index.shape)}.")
    if edge_weight is None:
        weight = torch.ones(edge_index.size(1), dtype=dtype, device=edge_index.device)
    else:
        if edge_weight.dim() != 1 or edge_weight.numel() != edge_index.size(1):
            raise ValueError(f"edge_weight must have one value per edge ({edge_index.size(1)}), "
                             f"got shape {list(edge_weight.shape)}.")
        weight = edge_weight.to(dtype)
    return torch.zeros(num_nodes, dtype=dtype, device=edge_index.device).index_add_(
        0, edge_index[1], weight)
