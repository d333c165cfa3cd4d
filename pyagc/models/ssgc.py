"""SSGC: simple spectral graph convolution (Markov diffusion kernel) as a training-free embedding."""
from __future__ import annotations

from typing import Any

from torch import Tensor

from pyagc.models.sgc import FixedGraphFilter
from pyagc.ops import polynomial_filter
from pyagc.utils.validation import check_scalar


class SSGC(FixedGraphFilter):
    r"""Markov-diffusion smoothing (Zhu & Koniusz, ICLR 2021).

    Simple spectral graph convolution, from `"Simple Spectral Graph Convolution"
    <https://openreview.net/forum?id=CYO5T-YjWZV>`_ (Zhu & Koniusz, ICLR 2021).

    .. math::
        \mathbf{X}' = \frac{1}{K}\sum_{k=1}^{K}\left((1-\alpha)\mathbf{S}^k\mathbf{X}
        + \alpha\mathbf{X}\right)
        = \alpha\mathbf{X} + \frac{1-\alpha}{K}\sum_{k=1}^{K}\mathbf{S}^k\mathbf{X},
        \qquad \mathbf{S} = \hat{\mathbf{D}}^{-1/2}\hat{\mathbf{A}}\hat{\mathbf{D}}^{-1/2}.

    Computed by streaming over the hops (``K`` sparse-CSR products, three ``[N, F]``
    buffers). ``K=0`` returns ``x``.

    Args:
        alpha: teleport probability :math:`\alpha \in [0, 1]`.
        K: number of hops.
        cached: cache the output of the first call (transductive use only).
        add_self_loops: add :math:`\mathbf{I}` to the adjacency.
        **kwargs: ``flow`` (``'source_to_target'`` default, as in PyG).

    Shapes:
        input ``x [N, F]``, ``edge_index [2, E]``, ``edge_weight [E]`` (optional);
        output ``[N, F]``.
    """

    def __init__(self, alpha: float, K: int = 1, cached: bool = False,
                 add_self_loops: bool = True, **kwargs: Any) -> None:
        super().__init__(K=K, cached=cached, add_self_loops=add_self_loops, **kwargs)
        self.alpha = float(check_scalar(alpha, "alpha", (int, float), min_val=0, max_val=1))

    def apply_filter(self, adj: Tensor, x: Tensor) -> Tensor:
        if self.K == 0:
            return x.to(adj.dtype)
        coefficients = [self.alpha] + [(1.0 - self.alpha) / self.K] * self.K
        return polynomial_filter(adj, x, coefficients)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha}, K={self.K})"
