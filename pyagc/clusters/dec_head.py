"""The DEC cluster head: Student-t soft assignments, the sharpened target and KL(P || Q).

Xie, Girshick and Farhadi, "Unsupervised Deep Embedding for Clustering Analysis", ICML 2016;
the self-training step of DAEGC (Wang et al., IJCAI 2019).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch
from torch import Tensor
from torch.nn import Parameter

from pyagc.clusters.base import BaseClusterHead
from pyagc.utils.validation import check_scalar

__all__ = ["DECClusterHead", "squared_distances", "student_t_assignment", "target_distribution",
           "kl_divergence"]


def squared_distances(z: Tensor, centers: Tensor) -> Tensor:
    r""":math:`\|\mathbf{z}_i - \boldsymbol\mu_j\|^2` for every node and centre, ``[n, k]``,
    as :math:`\|\mathbf{z}_i\|^2 + \|\boldsymbol\mu_j\|^2 - 2\mathbf{z}_i^\top\boldsymbol\mu_j`
    (``O(n k d)``, no ``[n, k, d]`` tensor), clamped at 0 against rounding."""
    zz = (z * z).sum(dim=1, keepdim=True)
    cc = (centers * centers).sum(dim=1).unsqueeze(0)
    return (zz + cc - 2.0 * (z @ centers.t())).clamp_min(0.0)


def student_t_assignment(z: Tensor, centers: Tensor, alpha: float = 1.0) -> Tensor:
    r"""DEC's soft assignment ``Q`` ``[n, k]`` (rows sum to 1):

    .. math::
        q_{ij} = \frac{(1 + \|\mathbf{z}_i - \boldsymbol\mu_j\|^2/\alpha)^{-(\alpha+1)/2}}
             {\sum_{j'} (1 + \|\mathbf{z}_i - \boldsymbol\mu_{j'}\|^2/\alpha)^{-(\alpha+1)/2}}

    computed as a softmax of the log-kernel, so that far-away nodes do not underflow to 0/0.
    """
    log_kernel = -0.5 * (alpha + 1.0) * torch.log1p(squared_distances(z, centers) / alpha)
    return torch.softmax(log_kernel, dim=1)


def target_distribution(q: Tensor) -> Tensor:
    r"""DEC's target ``P`` from ``Q`` ``[n, k]``: :math:`p_{ij} = (q_{ij}^2 / f_j) /
    \sum_{j'} q_{ij'}^2 / f_{j'}` with cluster frequencies :math:`f_j = \sum_i q_{ij}`.

    Squaring sharpens each row (confident assignments weigh more) and dividing by
    :math:`f_j` keeps large clusters from absorbing the others. Rows sum to 1.
    """
    q = q.detach()
    weight = q * q / q.sum(dim=0).clamp_min(torch.finfo(q.dtype).tiny)
    return weight / weight.sum(dim=1, keepdim=True).clamp_min(torch.finfo(q.dtype).tiny)


def kl_divergence(p: Tensor, q: Tensor) -> Tensor:
    r""":math:`\frac{1}{n}\sum_i\sum_j p_{ij}\log(p_{ij}/q_{ij})` (KL(P || Q) averaged over the
    ``n`` rows; terms with :math:`p_{ij} = 0` count 0). 0 exactly when ``P == Q``."""
    if p.shape != q.shape:
        raise ValueError(f"P and Q must have the same shape, got {list(p.shape)} and "
                         f"{list(q.shape)}.")
    tiny = torch.finfo(q.dtype).tiny
    terms = torch.where(p > 0, p * (torch.log(p.clamp_min(tiny)) - torch.log(q.clamp_min(tiny))),
                        torch.zeros_like(q))
    return terms.sum() / max(1, q.size(0))


class DECClusterHead(BaseClusterHead):
    r"""Learnable centres :math:`\boldsymbol\mu_j` with DEC's Student-t soft assignments.

    ``forward(z)`` returns ``Q`` ``[n, k]`` (:func:`student_t_assignment`) and, with
    ``update_target=True``, stores the target ``P = target_distribution(Q)`` as
    :attr:`target` (a buffer, saved in checkpoints once set). :meth:`kl_loss` is
    :math:`KL(P \| Q)` against the stored target, optionally for the rows ``index`` of it (a
    mini-batch's global node ids). Self-training refreshes ``P`` only every few epochs, so
    that ``Q`` is pulled towards a fixed, sharper version of itself.

    Args:
        n_clusters: number of clusters ``k`` (at least 2).
        n_features: embedding width ``d``.
        alpha: degrees of freedom of the Student-t kernel (1 in DEC and DAEGC).

    Centres start Xavier-normal; :meth:`reset_cluster_centers` sets them (e.g. from KMeans:
    :meth:`pyagc.models.ClusteringModel.initialize_cluster_centers`) and clears the target.
    """

    def __init__(self, n_clusters: int, n_features: int, alpha: float = 1.0) -> None:
        super().__init__()
        check_scalar(n_clusters, "n_clusters", int, min_val=2)
        check_scalar(n_features, "n_features", int, min_val=1)
        check_scalar(alpha, "alpha", (int, float), min_val=0, include_boundaries="neither")
        self.n_clusters = n_clusters
        self.n_features = n_features
        self.alpha = float(alpha)
        self.cluster_centers = Parameter(torch.empty(n_clusters, n_features))
        self.register_buffer("target", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_normal_(self.cluster_centers)
        self.target = None

    @torch.no_grad()
    def reset_cluster_centers(self, cluster_centers: Optional[Tensor] = None) -> None:
        """Copy ``cluster_centers`` ``[k, d]`` into the centres (``None``: a fresh random
        draw); the stored target is cleared either way."""
        if cluster_centers is None:
            self.reset_parameters()
            return
        self.check_cluster_centers(cluster_centers)
        self.cluster_centers.copy_(cluster_centers)
        self.target = None

    def soft_assign(self, z: Tensor) -> Tensor:
        """``Q`` ``[n, k]`` of the embeddings ``z`` ``[n, d]``."""
        if z.dim() != 2 or z.size(1) != self.n_features:
            raise ValueError(f"z must have shape [n, {self.n_features}], got {list(z.shape)}.")
        return student_t_assignment(z, self.cluster_centers, self.alpha)

    @torch.no_grad()
    def update_target(self, q: Tensor) -> Tensor:
        """Store and return ``P = target_distribution(q)`` (``q``: the whole graph's ``Q``)."""
        self.target = target_distribution(q).detach()
        return self.target

    def forward(self, z: Tensor, update_target: bool = True) -> Tensor:
        """``Q`` of ``z`` ``[n, k]``; with ``update_target`` also the new :attr:`target`."""
        q = self.soft_assign(z)
        if update_target:
            self.update_target(q)
        return q

    def kl_loss(self, q: Tensor, index: Optional[Tensor] = None) -> Tensor:
        """:func:`kl_divergence` of the stored target (rows ``index`` of it) and ``q``."""
        if self.target is None:
            raise ValueError("The DEC head has no target distribution yet: call "
                             "forward(z, update_target=True) or update_target(q) first.")
        p = self.target if index is None else self.target[index]
        return kl_divergence(p.to(q.dtype), q)

    @torch.no_grad()
    def cluster(self, z: Tensor, soft: bool = False) -> Tensor:
        """Hard labels ``[n]`` (the nearest centre) or, with ``soft=True``, ``Q``."""
        q = self.soft_assign(z)
        return q if soft else q.argmax(dim=1)

    def _load_from_state_dict(self, state_dict: Dict[str, Any], prefix: str, *args: Any,
                              **kwargs: Any) -> None:
        # The target exists only once set; a checkpoint taken after that restores it into a
        # head that has none yet (and one taken before clears it).
        key = prefix + "target"
        if key in state_dict:
            self.target = torch.empty_like(state_dict[key], device=self.cluster_centers.device)
        else:
            self.target = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"n_clusters={self.n_clusters}, n_features={self.n_features}, alpha={self.alpha}"
