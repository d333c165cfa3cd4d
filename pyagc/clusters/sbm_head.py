"""Stochastic-block-model heads: the (degree-corrected) Bernoulli / Poisson SBM likelihood of
soft assignments, and the graph-matching variant.

Arliss and Mueller, "Differentiable Community Detection with Graph Neural Networks and
Stochastic Block Models", LoG 2025.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from pyagc.clusters.soft_assignment import SoftAssignmentHead, adjacency_product
from pyagc.ops.adjacency import cached_adjacency_and_degree
from pyagc.ops.degree import degree
from pyagc.ops.negative_sampling import edge_keys
from pyagc.utils.cache import TensorCache
from pyagc.utils.validation import check_scalar

__all__ = ["SBMClusterHead", "SBMMatchClusterHead", "SBMBatch", "block_matrix",
           "SBM_VARIANTS", "draw_non_edges"]

SBM_VARIANTS = ("bernoulli", "poisson", "bernoulli-dc", "poisson-dc")
_EPS = 1e-15


class SBMBatch(NamedTuple):
    """What a sampled batch needs besides its own edges (see :func:`seed_subgraph`)."""

    weight: Tensor            #: estimator weight (times the edge's own weight) per edge ``[e]``
    deg: Tensor               #: whole-graph degrees of the rows ``[n]``
    num_edges: float          #: the whole graph's edge total :math:`m`
    pair_scale: float
    node_scale: float


def block_matrix(s: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                 pair_scale: float = 1.0, node_scale: float = 1.0) -> Tuple[Tensor, Tensor]:
    r"""``(Theta_hat [k, k], n [k])``: the MLE block matrix :math:`\hat\Theta_{rs} =
    M_{rs}/(n_r n_s)` of soft assignments, with soft edge counts :math:`\mathbf{M} =
    \mathbf{S}^\top\mathbf{A}\mathbf{S}` and block sizes :math:`\mathbf{n} =
    \mathbf{S}^\top\mathbf{1}`, in :math:`O(E\,k)`. The scales turn a batch's sums into
    whole-graph estimates."""
    m = (adjacency_product(s, edge_index, edge_weight).t() @ s) * pair_scale
    n = s.sum(dim=0) * node_scale
    return m / (n.unsqueeze(1) * n.unsqueeze(0)).clamp_min(_EPS), n


def _pair_rates(s: Tensor, pairs: Tensor, theta: Optional[Tensor],
                phi: Optional[Tensor]) -> Tensor:
    """:math:`\\phi_u\\phi_v\\,\\mathbf{S}_u^\\top\\Theta\\mathbf{S}_v` for each pair ``u -> v``
    (``theta`` None: the identity; ``phi`` None: no degree correction)."""
    src, dst = pairs
    left = s if theta is None else s @ theta
    rate = (left[src] * s[dst]).sum(dim=1)
    if phi is not None:
        rate = rate * phi[src] * phi[dst]
    return rate


def _edge_terms(rate: Tensor, bernoulli: bool) -> Tuple[Tensor, Tensor]:
    r"""Per-pair negative log-likelihoods ``(of an edge, of a non-edge)``:
    Bernoulli :math:`(-\ln\pi, -\ln(1-\pi))`, Poisson :math:`(\pi - \ln\pi, \pi)`."""
    log_rate = torch.log(rate.clamp_min(_EPS))
    if bernoulli:
        return -log_rate, -torch.log((1.0 - rate).clamp_min(_EPS))
    return rate - log_rate, rate


def draw_non_edges(keys: Tensor, num_nodes: int, num_samples: int,
                   generator: Optional[torch.Generator] = None) -> Tensor:
    """``num_samples`` uniform ordered pairs ``[2, <= num_samples]`` of ``num_nodes`` nodes,
    minus self-pairs and edges (``keys``: the sorted ``src * N + dst`` of the edges).

    The pairs come out sorted by key (their order does not matter to a sum over them): one
    sort of the draws makes the edge lookup and the later row gathers run in memory order,
    several times faster than looking up unsorted draws.
    """
    device = keys.device
    src = torch.randint(num_nodes, (num_samples,), generator=generator, device=device)
    dst = torch.randint(num_nodes, (num_samples,), generator=generator, device=device)
    cand = torch.sort(src * num_nodes + dst).values
    keep = (cand // num_nodes) != (cand % num_nodes)
    if keys.numel():
        pos = torch.searchsorted(keys, cand).clamp_(max=keys.numel() - 1)
        keep &= keys[pos] != cand
    cand = cand[keep]
    return torch.stack([cand // num_nodes, cand % num_nodes])


class _SBMBase(SoftAssignmentHead):
    def __init__(self, n_clusters: int, n_features: int, variant: str, eta: float) -> None:
        super().__init__(n_clusters, n_features, init="xavier", bias=False)
        check_scalar(eta, "eta", (int, float), min_val=0, include_boundaries="neither")
        self.variant = variant
        self.eta = float(eta)
        self._keys = TensorCache(edge_keys)

    def _theta_for_rates(self, theta: Tensor) -> Optional[Tensor]:
        return theta

    def _phi(self, s: Tensor, n: Tensor, deg: Tensor, node_scale: float) -> Optional[Tensor]:
        if not self.variant.endswith("-dc"):
            return None
        delta = (s.t() @ deg.to(s.dtype)) * node_scale
        return (s @ n) * deg.to(s.dtype) / (s @ delta).clamp_min(_EPS)

    def forward(self, z: Tensor, edge_index: Tensor, num_neg_samples: Optional[int] = None,
                edge_weight: Optional[Tensor] = None,
                neg_edge_index: Optional[Tensor] = None,
                generator: Optional[torch.Generator] = None,
                batch: Optional[SBMBatch] = None) -> Tuple[Tensor, Tensor]:
        """``(nll, reg)`` of the assignments of ``z`` (:meth:`terms`, edge and non-edge
        parts summed)."""
        pos, neg, reg = self.terms(z, edge_index, num_neg_samples, edge_weight, neg_edge_index,
                                   generator, batch)
        return pos + neg, reg

    def terms(self, z: Tensor, edge_index: Tensor, num_neg_samples: Optional[int] = None,
              edge_weight: Optional[Tensor] = None, neg_edge_index: Optional[Tensor] = None,
              generator: Optional[torch.Generator] = None,
              batch: Optional[SBMBatch] = None) -> Tuple[Tensor, Tensor, Tensor]:
        r"""``(nll_edges, nll_non_edges, reg)`` of the assignments of ``z`` ``[n, H]``.

        ``nll`` is :math:`m^{-1}` times the SBM negative log-likelihood: the mean edge term
        over the ``m`` edges of ``edge_index`` plus :math:`(\eta m)^{-1}` times the sum of the
        non-edge terms over ``num_neg_samples`` (default :math:`\eta m`) uniform non-edge
        pairs (drawn with ``generator``, or given as ``neg_edge_index``). ``reg`` is
        :math:`\|\mathbf{1}_k - \mathrm{diag}(\hat\Theta)\|_2`.

        ``batch``: ``edge_index`` are the edges among the rows of ``z`` (seeds of a sampled
        batch), ``neg_edge_index`` non-edge pairs among them, and ``batch`` holds the
        estimator weights and whole-graph degrees and sizes.
        """
        return self.assignment_terms(self.assign(z), edge_index, num_neg_samples, edge_weight,
                                     neg_edge_index, generator, batch)

    def assignment_terms(self, s: Tensor, edge_index: Tensor,
                         num_neg_samples: Optional[int] = None,
                         edge_weight: Optional[Tensor] = None,
                         neg_edge_index: Optional[Tensor] = None,
                         generator: Optional[torch.Generator] = None,
                         batch: Optional[SBMBatch] = None,
                         as_match: bool = False) -> Tuple[Tensor, Tensor, Tensor]:
        """:meth:`terms` of given soft assignments ``s`` ``[n, k]`` (rows summing to 1);
        ``as_match``: scored by the graph-matching likelihood (:class:`SBMMatchClusterHead`)
        whatever this head's variant."""
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f"edge_index must have shape [2, E], got {list(edge_index.shape)}.")
        num_pos = edge_index.size(1)
        if num_pos == 0 and batch is None:
            raise ValueError("The graph has no edges: the SBM likelihood is undefined.")
        adjacency = edge_index
        if batch is None:
            weight = None if edge_weight is None else edge_weight.to(s.dtype)
            if weight is None:
                adjacency, deg = cached_adjacency_and_degree(edge_index, s.size(0), s.dtype)
            else:
                deg = degree(edge_index, s.size(0), weight, s.dtype)
            total = float(num_pos) if weight is None else float(weight.sum())
            pair_scale = node_scale = 1.0
        else:
            weight, deg, total = batch.weight, batch.deg, float(batch.num_edges)
            pair_scale, node_scale = batch.pair_scale, batch.node_scale
        theta, n = block_matrix(s, adjacency, None if adjacency is not edge_index else weight,
                                pair_scale, node_scale)
        phi = None if as_match else self._phi(s, n, deg, node_scale)
        rate_theta = None if as_match else self._theta_for_rates(theta)
        bernoulli = as_match or self.variant.startswith("bernoulli") or self.variant == "match"
        pos_rate = _pair_rates(s, edge_index, rate_theta, phi)
        if bernoulli and phi is not None:
            pos_rate = pos_rate.clamp_max(1.0 - 1e-6)
        pos_term = _edge_terms(pos_rate, bernoulli)[0]
        pos = (pos_term.sum() if weight is None else (pos_term * weight).sum())
        pos = pos * pair_scale / max(total, _EPS)
        if neg_edge_index is None:
            count = int(round(self.eta * num_pos)) if num_neg_samples is None else num_neg_samples
            neg_edge_index = draw_non_edges(self._keys(edge_index, s.size(0)), s.size(0),
                                            max(count, 1), generator)
        requested = (self.eta * max(num_pos, 1) if num_neg_samples is None
                     else max(num_neg_samples, 1))
        if neg_edge_index.size(1) > 0:
            neg_rate = _pair_rates(s, neg_edge_index, rate_theta, phi)
            if bernoulli and phi is not None:
                neg_rate = neg_rate.clamp_max(1.0 - 1e-6)
            neg = _edge_terms(neg_rate, bernoulli)[1].sum() / requested
        else:
            neg = s.new_zeros(())
        reg = torch.linalg.vector_norm(1.0 - torch.diagonal(theta))
        return pos, neg, reg

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, variant={self.variant!r}, eta={self.eta}"


class SBMClusterHead(_SBMBase):
    r"""Soft assignments :math:`\mathbf{P} = \mathrm{softmax}(\mathrm{Lin}(\mathbf{Z}))` scored
    by the likelihood of a stochastic block model whose block matrix is estimated from them.

    :math:`\hat\Theta_{rs} = M_{rs}/(n_r n_s)` (:func:`block_matrix`), edge rate
    :math:`\pi_{uv} = \mathbf{P}_u^\top\hat\Theta\mathbf{P}_v` and, for the degree-corrected
    variants, :math:`\hat\phi_u\hat\phi_v\pi_{uv}` with :math:`\hat\phi_u = (\mathbf{P}_u^\top
    \mathbf{n})\,d_u/(\mathbf{P}_u^\top\boldsymbol\delta)`, :math:`\boldsymbol\delta =
    \mathbf{P}^\top\mathbf{d}` (for a one-hot ``P`` the classical DC-SBM MLE
    :math:`d_u d_v M_{rs}/(\delta_r\delta_s)`). Negative log-likelihood per edge pair:

    * Bernoulli: :math:`-\sum_{E}\ln\pi_{uv} - \eta^{-1}\sum_{\bar E}\ln(1-\pi_{uv})`;
    * Poisson: :math:`-\sum_{E}(\ln\pi_{uv} - \pi_{uv}) + \eta^{-1}\sum_{\bar E}\pi_{uv}`;

    the non-edge sums run over :math:`\eta\,m` uniformly drawn non-edges (``forward``).

    Args:
        n_clusters: number of blocks ``k``.
        n_features: embedding width ``H``.
        variant: ``'bernoulli'``, ``'poisson'``, ``'bernoulli-dc'`` or ``'poisson-dc'``.
        eta: non-edges drawn per edge (> 0).
    """

    def __init__(self, n_clusters: int, n_features: int, variant: str = "bernoulli",
                 eta: float = 3.0) -> None:
        if variant not in SBM_VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(map(repr, SBM_VARIANTS))}, "
                             f"got {variant!r}.")
        super().__init__(n_clusters, n_features, variant, eta)


class SBMMatchClusterHead(_SBMBase):
    r"""The graph-matching variant: soft assignments scored as a Bernoulli SBM with the
    block matrix fixed to the identity, :math:`\pi_{uv} = \mathbf{P}_u^\top\mathbf{P}_v`
    (the probability that ``u`` and ``v`` share a block): edges should join nodes of one
    block, the :math:`\eta\,m` drawn non-edges nodes of different blocks. No block matrix
    enters the rates (cheapest variant); ``reg`` still uses :math:`\hat\Theta`.

    Args:
        n_clusters: number of blocks ``k``.
        n_features: embedding width ``H``.
        eta: non-edges drawn per edge (> 0).
    """

    def __init__(self, n_clusters: int, n_features: int, eta: float = 3.0) -> None:
        super().__init__(n_clusters, n_features, "match", eta)

    def _theta_for_rates(self, theta: Tensor) -> Optional[Tensor]:
        return None
