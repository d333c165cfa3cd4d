"""Graph Barlow Twins.

Bielak, Kajdanowicz & Chawla, "Graph Barlow Twins: A self-supervised representation learning
framework for graphs", Knowledge-Based Systems 256, 2022.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import Module

from pyagc.models.base import LossOutput
from pyagc.models.two_view import TwoViewModel, standardize_columns
from pyagc.utils.validation import check_scalar

__all__ = ["GBT"]


class GBT(TwoViewModel):
    r"""Graph Barlow Twins: redundancy reduction across two graph views (Bielak et al., 2022).

    A shared encoder embeds two augmented views, :math:`\mathbf{H}^{(1)}, \mathbf{H}^{(2)}
    \in \mathbb{R}^{N \times D}`; each is batch-normalised column-wise (mean 0, population
    standard deviation 1), :math:`\tilde{\mathbf{Z}}^{(k)}`, and the cross-correlation
    :math:`\mathcal{C} = \tilde{\mathbf{Z}}^{(1)\top}\tilde{\mathbf{Z}}^{(2)} / N \in
    [-1, 1]^{D \times D}` is pushed to the identity:

    .. math::
        \mathcal{L} = \underbrace{\sum_i (1 - \mathcal{C}_{ii})^2}_{\text{inv}} +
        \lambda \underbrace{\sum_i \sum_{j \ne i} \mathcal{C}_{ij}^2}_{\text{red}}.

    It is 0 exactly when the two views' standardised embeddings agree and their columns are
    uncorrelated. Cost ``O(N D^2)`` time, ``O(D^2)`` extra memory.

    Args:
        encoder: shared encoder, ``(x [N, F], edge_index [2, E]) -> [N, D]``.
        transform1, transform2: the two views (e.g. :class:`~pyagc.transforms.GSSLTransform`).
        lam: weight :math:`\lambda \ge 0` of the redundancy-reduction term (default ``5e-3``).

    Outputs: :meth:`forward` gives ``(h1 [N, D], h2 [N, D])``; :meth:`loss` a
    :class:`~pyagc.models.LossOutput` with components ``inv`` and ``red``;
    :meth:`loss_batch` the same on a batch's seed nodes; :meth:`embed` the encoder on the
    clean graph, ``[N, D]``.
    """

    def __init__(self, encoder: Module, transform1: Any, transform2: Any,
                 lam: float = 5e-3) -> None:
        super().__init__(encoder, transform1, transform2)
        self.lam = float(check_scalar(lam, "lam", (int, float), min_val=0.0))

    def cross_correlation(self, h1: Tensor, h2: Tensor) -> Tensor:
        """:math:`\\mathcal{C}`, ``[D, D]``, of two ``[N, D]`` embeddings."""
        if h1.shape != h2.shape or h1.dim() != 2:
            raise ValueError(f"The two views' embeddings must both be [N, D], got "
                             f"{tuple(h1.shape)} and {tuple(h2.shape)}.")
        if h1.size(0) < 2:
            raise ValueError("GBT needs at least 2 nodes per batch to batch-normalise the "
                             "embeddings.")
        return standardize_columns(h1).t() @ standardize_columns(h2) / h1.size(0)

    def objective(self, h1: Tensor, h2: Tensor, edge_index: Tensor = None) -> LossOutput:
        c = self.cross_correlation(h1, h2)
        diag = torch.diagonal(c)
        inv = (1.0 - diag).pow(2).sum()
        red = c.pow(2).sum() - diag.pow(2).sum()
        return LossOutput(inv + self.lam * red, {"inv": inv, "red": red})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.encoder!r}, lam={self.lam})"
