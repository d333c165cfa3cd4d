"""The Dink-Net cluster head: learnable centres, the dilation and the shrink losses.

Liu, Liang, Tu, Wang, Zhou, Zhang, Zhu, Zhu and Liu, "Dink-Net: Neural Clustering on Large
Graphs", ICML 2023.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor
from torch.nn import Parameter

from pyagc.clusters.base import BaseClusterHead
from pyagc.clusters.dec_head import squared_distances
from pyagc.utils.validation import check_scalar

__all__ = ["DinkClusterHead", "dilation_loss", "shrink_loss"]


def dilation_loss(centers: Tensor) -> Tensor:
    r"""Minus the mean squared distance between two different centres,
    :math:`-\frac{1}{K(K-1)}\sum_{i \ne j}\|\mathbf{c}_i - \mathbf{c}_j\|^2` (``centers``
    ``[K, d]``, ``K >= 2``): lower when the centres are further apart."""
    k = centers.size(0)
    if k < 2:
        raise ValueError("The dilation loss needs at least two centres.")
    # The diagonal of the distance matrix is 0, so the sum over i != j is the full sum.
    return -squared_distances(centers, centers).sum() / (k * (k - 1))


def shrink_loss(z: Tensor, centers: Tensor) -> Tensor:
    r"""Mean squared distance of each node to its own (nearest) centre,
    :math:`\frac{1}{B}\sum_i \min_k \|\mathbf{h}_i - \mathbf{c}_k\|^2` (``z`` ``[B, d]``):
    0 exactly when every node sits on a centre. Its gradient pulls each node and its centre
    towards each other (the k-means objective of the current assignment)."""
    return squared_distances(z, centers).min(dim=1).values.mean()


class DinkClusterHead(BaseClusterHead):
    r"""Learnable cluster centres :math:`\mathbf{c}_1..\mathbf{c}_K` trained by Dink-Net's two
    clustering losses.

    ``forward(z)`` returns ``(dilation, shrink)`` (:func:`dilation_loss` of the centres,
    :func:`shrink_loss` of the nodes ``z`` ``[B, d]``). Both are sums over nodes / centre
    pairs, so a mini-batch gives an unbiased estimate of the full shrink loss and the exact
    dilation loss: this is what lets Dink-Net train in mini-batches.

    The Dink-Net paper averages the shrink term over all ``K`` centres,
    :math:`\frac{1}{BK}\sum_i\sum_k\|\mathbf{h}_i - \mathbf{c}_k\|^2`; here each node is pulled
    to its own centre (the nearest one), so that the term is 0 when every node sits on its
    centre and it sharpens the clusters instead of pulling every node to the centres' mean.

    ``cluster(z)`` assigns each node to its nearest centre (``soft=True``: a softmax of the
    negative squared distances).

    Args:
        n_clusters: number of clusters ``K`` (at least 2).
        n_features: embedding width ``d``.
    """

    def __init__(self, n_clusters: int, n_features: int) -> None:
        super().__init__()
        check_scalar(n_clusters, "n_clusters", int, min_val=2)
        check_scalar(n_features, "n_features", int, min_val=1)
        self.n_clusters = n_clusters
        self.n_features = n_features
        self.cluster_centers = Parameter(torch.empty(n_clusters, n_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_normal_(self.cluster_centers)

    @torch.no_grad()
    def reset_cluster_centers(self, cluster_centers: Optional[Tensor] = None) -> None:
        """Copy ``cluster_centers`` ``[K, d]`` into the centres (``None``: a fresh random draw)."""
        if cluster_centers is None:
            self.reset_parameters()
            return
        self.check_cluster_centers(cluster_centers)
        self.cluster_centers.copy_(cluster_centers)

    def _check(self, z: Tensor) -> None:
        if z.dim() != 2 or z.size(1) != self.n_features:
            raise ValueError(f"z must have shape [n, {self.n_features}], got {list(z.shape)}.")

    def forward(self, z: Tensor) -> Tuple[Tensor, Tensor]:
        """``(dilation_loss, shrink_loss)`` of the centres and the nodes ``z``."""
        self._check(z)
        return dilation_loss(self.cluster_centers), shrink_loss(z, self.cluster_centers)

    @torch.no_grad()
    def cluster(self, z: Tensor, soft: bool = False) -> Tensor:
        self._check(z)
        dist = squared_distances(z, self.cluster_centers)
        return torch.softmax(-dist, dim=1) if soft else dist.argmin(dim=1)

    def extra_repr(self) -> str:
        return f"n_clusters={self.n_clusters}, n_features={self.n_features}"
