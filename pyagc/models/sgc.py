"""SGC: the K-hop simplified graph convolution as a training-free embedding."""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

from pyagc.models.base import BaseModel
from pyagc.ops import normalized_operator, propagate
from pyagc.utils.validation import check_features, check_scalar

_FLOWS = ("source_to_target", "target_to_source")


class FixedGraphFilter(BaseModel):
    """Shared plumbing of the fixed (parameter-free) graph filters SGC and SSGC.

    Checks the inputs, builds the symmetric normalised adjacency once per call with
    :func:`pyagc.ops.normalized_operator` (one CSR, or column slabs for large CPU inputs),
    and caches the output when ``cached=True``.
    Subclasses implement :meth:`apply_filter`.
    """

    family = "non-parametric"

    def __init__(self, K: int = 1, cached: bool = False, add_self_loops: bool = True,
                 **kwargs: Any) -> None:
        super().__init__()
        check_scalar(K, "K", int, min_val=0)
        flow = kwargs.pop("flow", "source_to_target")
        if flow not in _FLOWS:
            raise ValueError(f"flow must be one of {_FLOWS}, got {flow!r}.")
        aggr = kwargs.pop("aggr", "add")
        if aggr != "add":
            raise ValueError(f"{type(self).__name__} aggregates with a normalised sum; aggr must "
                             f"be 'add', got {aggr!r}.")
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword arguments "
                            f"{sorted(kwargs)}; supported: K, cached, add_self_loops, flow.")
        self.K = K
        self.cached = bool(cached)
        self.add_self_loops = bool(add_self_loops)
        self.flow = flow
        self._cached_x: Optional[Tensor] = None

    def reset_parameters(self) -> None:
        self._cached_x = None

    def apply_filter(self, adj: Tensor, x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor, edge_index: Tensor,
                edge_weight: Optional[Tensor] = None) -> Tensor:
        if self.cached and self._cached_x is not None:
            return self._cached_x
        x = check_features(x)
        if self.flow == "target_to_source":
            edge_index = edge_index.flip(0)
        adj = normalized_operator(edge_index, x.size(0), x.size(1), self.K, edge_weight,
                                  self.add_self_loops, r=0.5, dtype=x.dtype, device=x.device)
        out = self.apply_filter(adj, x)
        if self.cached:
            self._cached_x = out
        return out

    @torch.no_grad()
    def embed(self, x: Tensor, edge_index: Tensor,
              edge_weight: Optional[Tensor] = None) -> Tensor:
        """Filtered features ``[num_nodes, num_features]`` (same as :meth:`forward`)."""
        return self.forward(x, edge_index, edge_weight)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(K={self.K})"


class SGC(FixedGraphFilter):
    r"""K-hop normalised-adjacency smoothing (Wu et al., ICML 2019).

    Simple graph convolution as a fixed filter, from `"Simplifying Graph Convolutional
    Networks" <https://arxiv.org/abs/1902.07153>`_ (Wu et al., ICML 2019).

    .. math::
        \mathbf{X}' = \left(\hat{\mathbf{D}}^{-1/2}\hat{\mathbf{A}}
        \hat{\mathbf{D}}^{-1/2}\right)^K \mathbf{X},

    with :math:`\hat{\mathbf{A}} = \mathbf{A} + \mathbf{I}` (optional edge weights) and
    :math:`\hat{D}_{ii} = \sum_j \hat{A}_{ij}`. Propagation is ``K`` sparse-CSR products;
    nothing is learned, so the output is the node embedding.

    Args:
        K: number of hops.
        cached: cache the output of the first call (transductive use only).
        add_self_loops: add :math:`\mathbf{I}` to the adjacency.
        **kwargs: ``flow`` (``'source_to_target'`` default, as in PyG).

    Shapes:
        input ``x [N, F]``, ``edge_index [2, E]``, ``edge_weight [E]`` (optional);
        output ``[N, F]``.
    """

    def apply_filter(self, adj: Tensor, x: Tensor) -> Tensor:
        return propagate(adj, x, self.K)
