"""The feature-only baseline: KMeans on the raw node features, the graph ignored."""
from __future__ import annotations

from typing import Any, Optional

from torch import Tensor

from pyagc.models.base import BaseModel
from pyagc.utils.validation import check_features

__all__ = ["KMeans"]


class KMeans(BaseModel):
    """KMeans on the raw node features (no graph).

    The reference point every graph method must beat: the embedding is the feature matrix
    itself, ``x [N, F] -> [N, F]``, and the runner's clustering step (KMeans on the
    L2-normalised rows by default) does the rest. ``edge_index`` is accepted and ignored.
    """

    family = "traditional"

    def embed(self, x: Tensor, edge_index: Optional[Tensor] = None, **kwargs: Any) -> Tensor:
        """The features, checked (floating point, finite): ``[N, F]``."""
        return check_features(x)

    def forward(self, x: Tensor, edge_index: Optional[Tensor] = None, **kwargs: Any) -> Tensor:
        return self.embed(x, edge_index)
