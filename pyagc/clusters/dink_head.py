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
    r"""Squared distance of the nodes to their own (nearest) centre, averaged within each
    cluster and summed over the ``K`` clusters:
    :math:`\frac{K}{|\mathcal{K}|}\sum_{k \in \mathcal{K}} \frac{1}{|C_k|}\sum_{i \in C_k}
    \|\mathbf{z}_i - \mathbf{c}_k\|^2` with :math:`C_k` the nodes of ``z`` ``[B, d]`` nearest
    to centre ``k`` and :math:`\mathcal{K}` the non-empty clusters (in practice all ``K``:
    then it is the plain sum). 0 exactly when every node sits on a centre.

    Its gradient pulls each node and its centre towards each other (the k-means objective of
    the current assignment): centre ``k`` by :math:`2(\mathbf{c}_k - \mathbf{m}_k)`
    (:math:`\mathbf{m}_k` its nodes' mean) whatever its cluster's size, against the dilation
    loss's push :math:`\frac{4}{K-1}(\mathbf{c}_k - \bar{\mathbf{c}})`.

    * Per cluster, not per node: with the plain mean over nodes a small cluster's centre is
      pulled ``|C_k| K / B`` times less than it is pushed and drifts away from its nodes (3
      clusters of 120, 20 and 10 points: the two small ones emptied within 300 steps).
    * Summed, not averaged, over the clusters: averaged, the pull :math:`\frac{2}{K}` is
      weaker than the push :math:`\frac{4}{K-1}` for every ``K``, so the centres have no
      resting place; they leave their clusters for the ``max_norm`` wall and the assignment
      drifts while the encoder keeps training. Dink-Net on Cora (documented call, ``alpha=10``,
      50 finetune epochs from the same pretrained encoder), seeds 0 / 1 / 2: 56.3 / 55.8 /
      54.3 NMI at the KMeans start; 53.5 / 56.4 / 50.1 after finetuning with the average,
      55.6 / 56.1 / 55.0 with the sum. Summed, for ``K > 3`` each centre settles between its
      nodes' mean and the wall.

    On a mini-batch the per-cluster means are ratio estimates (consistent, not unbiased)."""
    dist = squared_distances(z, centers)
    nearest, labels = dist.min(dim=1)
    k = centers.size(0)
    sums = nearest.new_zeros(k).index_add(0, labels, nearest)
    counts = torch.bincount(labels, minlength=k)
    filled = counts > 0
    return (sums[filled] / counts[filled]).mean() * k


class DinkClusterHead(BaseClusterHead):
    r"""Learnable cluster centres :math:`\mathbf{c}_1..\mathbf{c}_K` trained by Dink-Net's two
    clustering losses.

    ``forward(z)`` returns ``(dilation, shrink)`` (:func:`dilation_loss` of the centres,
    :func:`shrink_loss` of the nodes ``z`` ``[B, d]``). Both are means over nodes / centre
    pairs, so a mini-batch gives the exact dilation loss and a consistent estimate of the
    shrink loss: this is what lets Dink-Net train in mini-batches.

    The Dink-Net paper averages the shrink term over all ``K`` centres,
    :math:`\frac{1}{BK}\sum_i\sum_k\|\mathbf{h}_i - \mathbf{c}_k\|^2`; here each node is pulled
    to its own centre (the nearest one), so that the term is 0 when every node sits on its
    centre and it sharpens the clusters instead of pulling every node to the centres' mean
    (the paper's form does not depend on the assignment at all); the per-node distances are
    averaged per cluster and summed over the clusters, which gives each centre a resting
    place against the dilation push (see :func:`shrink_loss`).

    ``max_norm=1.0`` (default) measures both losses and the assignment with the centres
    rescaled into the unit ball, :math:`\hat{\mathbf{c}}_k = \mathbf{c}_k /
    \max(1, \|\mathbf{c}_k\|)` (Dink-Net's node embeddings are L2-normalised, so every
    node lies on the unit sphere). The dilation loss has no lower bound for free centres:
    every optimiser step pushes them further out, and once they have left the sphere the
    nearest centre of every node is the one the shrink term keeps pulling back — one cluster.
    On Cora with 512-node batches (6 steps per epoch) all 2,708 nodes were in one cluster
    after 10 finetune epochs (centre norms 0.6 -> 2.0; 10.7 after 50). In the ball both terms
    are bounded (``-2K/(K-1) <= dilation <= 0``) and the centres that KMeans placed inside it
    are used as they are; with the per-cluster shrink the same run keeps its seven clusters
    (seed 0, KMeans initialisation 58.5 NMI; after 50 epochs 57.0 with 512-node batches, 57.1
    full-batch). Projecting onto the sphere instead also bounds the terms but changes
    KMeans's assignment (58.5 -> 56.4 NMI at initialisation). ``max_norm=None``: free centres.

    ``cluster(z)`` assigns each node to its nearest centre (``soft=True``: a softmax of the
    negative squared distances).

    Args:
        n_clusters: number of clusters ``K`` (at least 2).
        n_features: embedding width ``d``.
        max_norm: largest centre norm the losses and the assignment see (keyword-only;
            ``None``: unbounded).
    """

    def __init__(self, n_clusters: int, n_features: int, *,
                 max_norm: Optional[float] = 1.0) -> None:
        super().__init__()
        check_scalar(n_clusters, "n_clusters", int, min_val=2)
        check_scalar(n_features, "n_features", int, min_val=1)
        if max_norm is not None:
            check_scalar(max_norm, "max_norm", (int, float), min_val=0,
                         max_val=float("inf"), include_boundaries="right")
        self.n_clusters = n_clusters
        self.n_features = n_features
        self.max_norm = None if max_norm is None else float(max_norm)
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

    def centers(self) -> Tensor:
        """The centres the losses and the assignment use ``[K, d]``: rows rescaled to norm at
        most ``max_norm`` (differentiable)."""
        centers = self.cluster_centers
        if self.max_norm is None:
            return centers
        norms = centers.norm(p=2, dim=1, keepdim=True)
        return centers * (self.max_norm / norms.clamp(min=self.max_norm))

    def forward(self, z: Tensor) -> Tuple[Tensor, Tensor]:
        """``(dilation_loss, shrink_loss)`` of the centres and the nodes ``z``."""
        self._check(z)
        centers = self.centers()
        return dilation_loss(centers), shrink_loss(z, centers)

    @torch.no_grad()
    def cluster(self, z: Tensor, soft: bool = False) -> Tensor:
        self._check(z)
        dist = squared_distances(z, self.centers())
        return torch.softmax(-dist, dim=1) if soft else dist.argmin(dim=1)

    def extra_repr(self) -> str:
        return (f"n_clusters={self.n_clusters}, n_features={self.n_features}, "
                f"max_norm={self.max_norm}")
