"""The interface every cluster head follows."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from torch import Tensor
from torch.nn import Module


class BaseClusterHead(Module, ABC):
    """Maps node embeddings to cluster assignments.

    ``forward`` is what a model calls during training (it may return soft assignments and
    auxiliary terms); ``cluster(z, soft=False)`` returns hard labels ``[N]`` or, with
    ``soft=True``, memberships ``[N, k]``.
    """

    n_clusters: int

    @abstractmethod
    def cluster(self, *args: Any, **kwargs: Any) -> Tensor:
        """Hard labels ``[N]`` (or soft memberships ``[N, k]`` with ``soft=True``)."""

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.cluster(*args, **kwargs)

    def check_cluster_centers(self, cluster_centers: Tensor) -> Tensor:
        """``cluster_centers`` if it has the head's shape ``[n_clusters, n_features]``, else
        one :class:`ValueError` naming both shapes (for ``reset_cluster_centers``)."""
        expected = (self.n_clusters, getattr(self, "n_features", cluster_centers.shape[-1]))
        if tuple(cluster_centers.shape) != expected:
            raise ValueError(f"cluster_centers must have shape [{expected[0]}, {expected[1]}], "
                             f"got {list(cluster_centers.shape)}.")
        return cluster_centers
