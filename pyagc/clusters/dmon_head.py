"""The DMoN cluster head and its two losses (spectral modularity, collapse regulariser).

Tsitsulin et al., "Graph Clustering with Graph Neural Networks", JMLR 2023.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch import Tensor

from pyagc.clusters.soft_assignment import SoftAssignmentHead
from pyagc.ops.adjacency import cached_adjacency_and_degree
from pyagc.ops.degree import degree

__all__ = ["DMoNClusterHead", "spectral_modularity_loss", "collapse_loss"]


def _adjacency_product(s: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor]) -> Tensor:
    """:math:`\\mathbf{A}\\mathbf{S}` from a CSR adjacency (SpMM) or an edge list (gather-scatter)."""
    if edge_index.layout == torch.sparse_csr:
        return torch.sparse.mm(edge_index, s)
    src, dst = edge_index
    msg = s[src] if edge_weight is None else s[src] * edge_weight.to(s.dtype).unsqueeze(-1)
    return torch.zeros_like(s).index_add_(0, dst, msg)


def spectral_modularity_loss(s: Tensor, edge_index: Tensor, deg: Tensor, two_m: float,
                             edge_weight: Optional[Tensor] = None,
                             sample_fraction: Optional[Tuple[int, int]] = None) -> Tensor:
    r""":math:`-\frac{1}{2m}\mathrm{Tr}(\mathbf{S}^\top\mathbf{B}\mathbf{S})` with
    :math:`\mathbf{B} = \mathbf{A} - \mathbf{d}\mathbf{d}^\top/2m`, in :math:`O(E\,k)`:

    .. math::
        \mathrm{Tr}(\mathbf{S}^\top\mathbf{B}\mathbf{S}) = \langle\mathbf{S},
        \mathbf{A}\mathbf{S}\rangle_F - \frac{\|\mathbf{S}^\top\mathbf{d}\|^2}{2m}

    so :math:`\mathbf{B}` (dense ``[N, N]``) is never formed. With a one-hot ``S`` this is minus
    the modularity :math:`Q` of the partition.

    Args:
        s: soft assignments ``[n, k]``.
        edge_index: ``[2, E]`` edges among the ``n`` rows of ``s`` (both directions for an
            undirected graph) or the CSR adjacency ``[n, n]``.
        deg: degrees ``d`` of the ``n`` nodes in the whole graph, ``[n]``.
        two_m: :math:`2m = \sum_i d_i` of the whole graph.
        edge_weight: optional ``[E]`` weights (an estimator's inverse inclusion probabilities).
        sample_fraction: ``(n, N)`` when ``s`` holds ``n`` uniform nodes out of ``N``: the
            pair sums are then rescaled into unbiased estimates of the full-graph sums (pairs
            ``i != j`` by ``N(N-1) / (n(n-1))``, the diagonal by ``N / n``).
    """
    inner = (s * _adjacency_product(s, edge_index, edge_weight)).sum()
    sd = s.t() @ deg
    null_all = sd @ sd
    if sample_fraction is None:
        null = null_all
    else:
        n, total = sample_fraction
        if n < 2:
            raise ValueError("A mini-batch DMoN loss needs at least two seed nodes per batch.")
        pair_scale = total * (total - 1) / (n * (n - 1))
        diag = ((deg * deg) * (s * s).sum(dim=1)).sum()
        null = (null_all - diag) * pair_scale + diag * (total / n)
        inner = inner * pair_scale
    return -(inner - null / two_m) / two_m


def collapse_loss(s: Tensor) -> Tensor:
    r""":math:`\frac{\sqrt{k}}{n}\|\sum_i \mathbf{S}_i\|_2 - 1`: 0 for equal cluster sizes,
    :math:`\sqrt{k} - 1` when every node is in one cluster. ``s`` is ``[n, k]``."""
    n, k = s.shape
    return math.sqrt(k) / n * torch.linalg.vector_norm(s.sum(dim=0)) - 1.0


class DMoNClusterHead(SoftAssignmentHead):
    r"""Soft cluster assignments :math:`\mathbf{S} = \mathrm{softmax}(\mathbf{Z}\mathbf{W}^\top
    + \mathbf{b})` and the DMoN losses on them.

    The projection is initialised orthogonally (rows of :math:`\mathbf{W}` orthonormal, as
    in the DMoN reference set-up): at the start every cluster looks at a different direction of
    the embedding, so the softmax does not begin near-uniform and collapsed.

    Args:
        n_clusters: number of clusters ``k``.
        n_features: embedding width ``H``.
        dropout: dropout on the assignment logits while training (the DMoN paper's head uses
            0.5; default 0).
    """

    def __init__(self, n_clusters: int, n_features: int, dropout: float = 0.0) -> None:
        super().__init__(n_clusters, n_features, dropout=dropout)

    def forward(self, z: Tensor, edge_index: Tensor, deg: Optional[Tensor] = None,
                two_m: Optional[float] = None, edge_weight: Optional[Tensor] = None,
                sample_fraction: Optional[Tuple[int, int]] = None) -> Tuple[Tensor, Tensor]:
        """``(spectral_loss, collapse_loss)`` of the assignments of ``z`` on the graph.

        ``deg`` / ``two_m`` default to the degrees and total weight of ``edge_index`` itself
        (full-batch); pass the whole graph's values for a subgraph. An unweighted full graph
        is aggregated through its CSR adjacency, built once for repeated calls on the same
        ``edge_index`` (:func:`~pyagc.ops.cached_adjacency_and_degree`).
        """
        s = self.assign(z)
        if deg is None and edge_weight is None and edge_index.layout == torch.strided:
            edge_index, deg = cached_adjacency_and_degree(edge_index, s.size(0), s.dtype)
        elif deg is None:
            # CSR adj_t row sums are in-degrees; DMoN graphs are undirected, so these are d.
            deg = degree(edge_index, s.size(0), edge_weight, s.dtype)
        if two_m is None:
            two_m = float(deg.sum())
        if two_m <= 0:
            raise ValueError("The graph has no edges: DMoN's modularity is undefined.")
        spectral = spectral_modularity_loss(s, edge_index, deg, two_m, edge_weight,
                                            sample_fraction)
        return spectral, collapse_loss(s)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_clusters={self.n_clusters}, n_features={self.n_features})"

