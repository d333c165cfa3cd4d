"""A neural-clustering head on the unit sphere (INC): cosine centres, a compactness loss with
a small separation term, and per-centre gradient normalisation."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter

from pyagc.clusters.base import BaseClusterHead
from pyagc.utils.validation import check_scalar

__all__ = ["INCClusterHead"]


class INCClusterHead(BaseClusterHead):
    r"""Learnable centres on the unit sphere, trained by gradient like a spherical k-means.

    With unit rows :math:`\hat{\mathbf{z}}_i = \mathbf{z}_i / \|\mathbf{z}_i\|` and unit centres
    :math:`\hat{\mathbf{c}}_k` (:meth:`compute_cluster_center`), ``forward(z)`` returns

    .. math::
        \mathcal{L} = \frac{1}{n}\sum_i\bigl(1 - \max_k \hat{\mathbf{z}}_i^\top
        \hat{\mathbf{c}}_k\bigr) + \alpha\,\frac{1}{K(K-1)}\sum_{j \ne k}
        \hat{\mathbf{c}}_j^\top\hat{\mathbf{c}}_k

    (compactness: each node pulled to its most similar centre, 0 when every node lies on a
    centre's direction; separation: centres kept apart, with the small weight ``alpha``). Both
    are means over nodes / centre pairs, so mini-batches give unbiased estimates. Labels:
    the most similar centre (``soft=True``: softmax of the cosine similarities).

    Two helpers keep gradient training well behaved: :meth:`gradient_normalize` rescales each
    centre's gradient to unit length after ``backward()`` (with a hard assignment a centre's
    gradient grows with its cluster's size, so small clusters would barely move), and
    :meth:`normalize_cluster_centers` projects the stored centres back onto the sphere after
    the optimiser step.

    Which method uses it: none of the shipped methods trains it yet. It is the cosine
    counterpart of :class:`~pyagc.clusters.DinkClusterHead` (whose distances are Euclidean) for
    a model whose embedding is L2-normalised, such as :class:`~pyagc.models.DinkNet`'s; it
    follows the cluster-head interface (``reset_cluster_centers`` for KMeans initialisation,
    ``cluster``), so such a model can hold it as its ``cluster_head``.

    Args:
        n_clusters: number of clusters ``K`` (at least 2).
        n_features: embedding width ``d``.
        alpha: weight of the separation term (``>= 0``).
    """

    def __init__(self, n_clusters: int, n_features: int, alpha: float = 1e-3) -> None:
        super().__init__()
        check_scalar(n_clusters, "n_clusters", int, min_val=2)
        check_scalar(n_features, "n_features", int, min_val=1)
        check_scalar(alpha, "alpha", (int, float), min_val=0)
        self.n_clusters = n_clusters
        self.n_features = n_features
        self.alpha = float(alpha)
        self.cluster_centers = Parameter(torch.empty(n_clusters, n_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.normal_(self.cluster_centers)
        self.normalize_cluster_centers()

    @torch.no_grad()
    def reset_cluster_centers(self, cluster_centers: Optional[Tensor] = None) -> None:
        """Set the centres to the directions of ``cluster_centers`` ``[K, d]`` (``None``: a
        fresh random draw)."""
        if cluster_centers is None:
            self.reset_parameters()
            return
        self.check_cluster_centers(cluster_centers)
        self.cluster_centers.copy_(cluster_centers)
        self.normalize_cluster_centers()

    @torch.no_grad()
    def normalize_cluster_centers(self) -> None:
        """Project the stored centres onto the unit sphere, in place."""
        self.cluster_centers.copy_(F.normalize(self.cluster_centers, p=2.0, dim=1))

    def compute_cluster_center(self) -> Tensor:
        """The unit centres :math:`\\hat{\\mathbf{c}}_k` ``[K, d]`` (differentiable)."""
        return F.normalize(self.cluster_centers, p=2.0, dim=1)

    def _similarity(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.size(1) != self.n_features:
            raise ValueError(f"z must have shape [n, {self.n_features}], got {list(z.shape)}.")
        return F.normalize(z, p=2.0, dim=1) @ self.compute_cluster_center().t()

    def forward(self, z: Tensor) -> Tensor:
        """The loss :math:`\\mathcal{L}` of the nodes ``z`` ``[n, d]`` (a scalar)."""
        compact = 1.0 - self._similarity(z).max(dim=1).values.mean()
        centers = self.compute_cluster_center()
        k = self.n_clusters
        gram = centers @ centers.t()
        separation = (gram.sum() - gram.diagonal().sum()) / (k * (k - 1))
        return compact + self.alpha * separation

    @torch.no_grad()
    def gradient_normalize(self) -> None:
        """Rescale each centre's gradient row to unit L2 norm (rows without gradient stay 0);
        call it between ``loss.backward()`` and ``optimizer.step()``."""
        grad = self.cluster_centers.grad
        if grad is not None:
            grad.copy_(F.normalize(grad, p=2.0, dim=1))

    @torch.no_grad()
    def cluster(self, z: Tensor, soft: bool = False) -> Tensor:
        sim = self._similarity(z)
        return torch.softmax(sim, dim=1) if soft else sim.argmax(dim=1)

    def extra_repr(self) -> str:
        return f"n_clusters={self.n_clusters}, n_features={self.n_features}, alpha={self.alpha}"
