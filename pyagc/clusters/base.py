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
