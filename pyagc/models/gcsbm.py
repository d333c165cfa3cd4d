"""GCSBM: GNN community detection trained on stochastic-block-model likelihoods.

Arliss and Mueller, "Differentiable Community Detection with Graph Neural Networks and
Stochastic Block Models", LoG 2025.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
from torch import Tensor
from torch.nn import Module
from torch_geometric.data import Data

from pyagc.clusters.dmon_head import collapse_loss
from pyagc.clusters.sbm_head import SBM_VARIANTS, SBMBatch, SBMClusterHead, SBMMatchClusterHead
from pyagc.models.base import LossOutput
from pyagc.models.graph_objective import GraphObjectiveModel
from pyagc.ops.negative_sampling import edge_keys
from pyagc.ops.random import DeviceGenerators
from pyagc.utils.validation import check_scalar

__all__ = ["GCSBM"]

VARIANTS = SBM_VARIANTS + ("match",)
#: ``collapse=None``: the measured weight per variant (1 for those not listed; see GCSBM).
DEFAULT_COLLAPSE = {"match": 10.0}


class GCSBM(GraphObjectiveModel):
    r"""GNN community detection by stochastic-block-model likelihood (Arliss & Mueller, LoG 2025).

    Soft assignments :math:`\mathbf{P} = \mathrm{softmax}(\mathrm{Lin}(\mathcal{E}(\mathbf{X},
    \mathbf{A})))` trained on

    .. math::
        \mathcal{L} = m^{-1}\mathcal{L}_{SBM} + \alpha\,\|\mathbf{1}_k -
        \mathrm{diag}(\hat\Theta)\|_2 + \lambda_c\Big(\frac{\sqrt{k}}{N}
        \big\|\textstyle\sum_i\mathbf{P}_i\big\|_2 - 1\Big)

    where :math:`\mathcal{L}_{SBM}` is the negative log-likelihood of the (degree-corrected)
    Bernoulli or Poisson SBM with block matrix :math:`\hat\Theta_{rs} = M_{rs}/(n_r n_s)`
    estimated from :math:`\mathbf{P}` (:class:`~pyagc.clusters.SBMClusterHead`), or of the
    graph-matching model :math:`\pi_{uv} = \mathbf{P}_u^\top\mathbf{P}_v`
    (:class:`~pyagc.clusters.SBMMatchClusterHead`), over the ``m`` edges and
    :math:`\eta\,m` uniformly drawn non-edges (weighted :math:`\eta^{-1}`), ``m`` being the
    number of entries of ``edge_index``. Cost :math:`O(\eta\,E\,k + N\,k^2)`. ``forward``
    returns hard labels ``[N]``. Loss components: ``nll_edges`` and ``nll_non_edges`` (the
    two parts of :math:`m^{-1}\mathcal{L}_{SBM}`), ``reg`` and, when :math:`\lambda_c > 0`,
    ``collapse``.

    The last term (``collapse`` = :math:`\lambda_c`) is DMoN's collapse regulariser
    (:func:`~pyagc.clusters.dmon_head.collapse_loss`; 0 for equal block sizes), not part of the
    paper's formula: with ``collapse=0`` the likelihood alone is the documented objective.
    Why it is there: the soft likelihood :math:`\ln\mathbf{P}_u^\top\hat\Theta\mathbf{P}_v`
    rewards mixed memberships (after training, the soft loss is 0.4-0.6 nats per edge below
    that of the argmax partition and below that of the true labels), and from the near-uniform
    start gradient descent drifts into one giant block plus small ones (Cora, seed 0: 0.4 NMI
    for ``variant='bernoulli'``, ``alpha=1``, ``collapse=0``). In the match likelihood the
    only force against that is the non-edge term, :math:`-\ln(1-\mathbf{P}_u^\top
    \mathbf{P}_v)\approx\mathbf{P}_u^\top\mathbf{P}_v` for random pairs, weighted like
    the edges: too weak against the edge term's :math:`-\ln`, so it needs a strong balance
    prior.

    Defaults, measured (Cora, seeds 0-4, ``pyagc/configs/GCSBM.yaml``'s encoder and schedule:
    1-layer GCN 64, SELU, dropout 0.5, Adam lr 0.01, wd 1e-5, 1000 epochs, patience 50;
    ``benchmarks/joint_results.md``):

    * ``variant='match'`` (the documented default is ``'bernoulli'``): the fitted-:math:`\hat
      \Theta` variants fit the SBM rather than assortative communities (their best
      partitions have a higher likelihood than the true labels at modularity ~55), and the
      non-corrected ones group nodes by degree: without the warm start below
      ``'bernoulli'`` reaches 26.3 NMI, ``'bernoulli-dc'`` 35.7, ``'match'`` 45.3 (all with
      the defaults ``alpha=1`` and ``collapse=None``).
    * ``collapse=None`` picks the weight by variant: 10 for ``'match'`` (NMI over seeds 0-4
      at ``alpha=1``: collapse 1: 35.8, 3: 42.6, 10: 45.3, 20: 45.7; CiteSeer collapse 1:
      16.7, 10: 26.6, 20: 25.4), 1 for the fitted-:math:`\hat\Theta` variants (there a
      larger weight holds the near-uniform start in place: ``'bernoulli'`` collapse 10: 13.4;
      ``'bernoulli-dc'`` at ``alpha=0``, collapse 5: 20.7 (seeds 0-2), 10: 6.5).
    * ``alpha=1`` (documented) with the collapse term on helps every variant (``alpha`` 0
      -> 1: ``'match'`` 45.2 -> 45.3, ``'bernoulli-dc'`` 35.2 -> 35.7, ``'poisson-dc'``
      34.9 -> 36.3, ``'bernoulli'`` 19.8 -> 26.3, ``'poisson'`` 20.0 -> 25.5); without it
      (``collapse=0``) ``alpha`` rewards tiny blocks of density near 1 (5-20 NMI lost, seed 0).

    Warm start (``loss(..., warmup=True)``; the YAML's first training stage, 100 epochs):
    the assignments are scored by the match likelihood with match's collapse weight (10)
    whatever the variant, i.e. the fitted-:math:`\hat\Theta` variants start from match's
    assortative partition instead of the near-uniform start where their soft likelihood is
    flat, as SBM inference is commonly started from a spectral or modularity partition; the
    second stage then fits the variant's own likelihood. Cora, seeds 0-4, YAML
    (``benchmarks/joint_results.md``): ``'bernoulli-dc'`` 35.7 -> 45.9 NMI, ``'poisson-dc'``
    36.3 -> 46.0, ``'bernoulli'`` 26.3 -> 44.1, ``'poisson'`` 25.5 -> 44.1, ``'match'`` 44.9
    (seed 0, bernoulli-dc: 41.9 after the warm start alone, 45.5 after the second stage,
    modularity 66.8 -> 75.1).

    *Start* (``head_init``). The documented call (1-layer GCN 64, SELU, dropout 0.5, Adam lr
    0.01, 1000 epochs, patience 50, the 'match' variant) gave 44.83 NMI over seeds 0-4 from
    the Glorot-uniform head; starting the head at a soft KMeans partition of the untrained
    encoder's embedding (``'kmeans'``, the default): **46.18 +- 2.36 NMI / 58.88 ACC over
    seeds 0-9, 45.60 over seeds 0-4** (``benchmarks/bench_documented.py --methods gcsbm
    --seeds 0 ... 9``).

    Args:
        encoder: maps ``(x, edge_index)`` to ``[N, n_features]``.
        n_features: width of the encoder output.
        n_clusters: number of blocks ``k``.
        variant: ``'match'`` (default; see above), ``'bernoulli'``, ``'poisson'``,
            ``'bernoulli-dc'`` or ``'poisson-dc'``.
        eta: non-edges drawn per edge (``> 0``).
        alpha: weight of the diagonal regulariser (``>= 0``).
        collapse: weight :math:`\lambda_c` of the collapse regulariser (``>= 0``; see
            above), or ``None``: 10 for ``'match'``, 1 for the other variants. In a mini-batch
            it is computed on the batch's seeds (a plug-in estimate).
        seed: seed of the non-edge draws (same seed, same draws on one device); ``None``
            uses torch's global generator.
        head_init: ``'kmeans'`` (default): the first training step starts the head at a soft
            KMeans partition of the untrained encoder's embedding
            (:meth:`~pyagc.clusters.soft_assignment.SoftAssignmentHead.start_from_kmeans`);
            ``'random'``: at its Glorot-uniform draw (see *Start*).

    Mini-batch (:meth:`loss_batch`; :meth:`prepare` first, which also keeps the whole
    graph's sorted edge keys): on the seeds of a neighbour-sampled batch, the kept seed
    edges weighted by their inverse inclusion probability make the batch's soft edge counts
    :math:`\mathbf{M}`, block sizes :math:`\mathbf{n}`, block degrees
    :math:`\boldsymbol\delta` and the mean edge term unbiased estimates of the whole-graph
    ones for fixed parameters and fixed :math:`\hat\Theta`; non-edges are drawn uniformly
    among the seed pairs and checked against the whole graph's edges, so their mean term is
    unbiased too. :math:`\hat\Theta`, :math:`\hat\phi` (ratios) and hence the likelihood and
    the regulariser are plug-in estimates. A batch holding every node with all neighbours
    gives the full loss's edge and regulariser terms exactly (the non-edge draws differ).
    """

    def __init__(self, encoder: Module, n_features: int, n_clusters: int,
                 variant: str = "match", eta: float = 3.0, alpha: float = 1.0,
                 collapse: Optional[float] = None, seed: Optional[int] = None,
                 head_init: str = "kmeans") -> None:
        super().__init__(encoder, head_init)
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(map(repr, VARIANTS))}, "
                             f"got {variant!r}.")
        check_scalar(alpha, "alpha", (int, float), min_val=0)
        if collapse is None:
            collapse = DEFAULT_COLLAPSE.get(variant, 1.0)
        check_scalar(collapse, "collapse", (int, float), min_val=0)
        check_scalar(eta, "eta", (int, float), min_val=0, include_boundaries="neither")
        if variant == "match":
            self.cluster_head = SBMMatchClusterHead(n_clusters, n_features, eta)
        else:
            self.cluster_head = SBMClusterHead(n_clusters, n_features, variant, eta)
        self.n_clusters = n_clusters
        self.variant = variant
        self.eta = float(eta)
        self.alpha = float(alpha)
        self.collapse = float(collapse)
        self.generators = DeviceGenerators(seed)
        self.register_buffer("global_edge_keys", None, persistent=False)

    def set_graph_statistics(self, data: Data) -> None:
        """Also keep the whole graph's sorted edge keys (non-edge checks in batches)."""
        super().set_graph_statistics(data)
        self.global_edge_keys = edge_keys(data.edge_index, int(data.num_nodes)).to(self.device)

    def _output(self, s: Tensor, terms: Tuple[Tensor, Tensor, Tensor],
                warmup: bool) -> LossOutput:
        edges, non_edges, reg = terms
        total = edges + non_edges + self.alpha * reg
        parts = {"nll_edges": edges, "nll_non_edges": non_edges, "reg": reg}
        collapse = DEFAULT_COLLAPSE["match"] if warmup else self.collapse
        if collapse > 0:
            parts["collapse"] = collapse_loss(s)
            total = total + collapse * parts["collapse"]
        return LossOutput(total, parts)

    def loss(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
             warmup: bool = False, **kwargs: Any) -> LossOutput:
        """The loss above; ``warmup=True``: the match likelihood with match's default collapse
        weight, whatever the variant (see *Warm start*)."""
        s = self.cluster_head.assign(self._training_embedding(x, edge_index, edge_weight))
        return self._output(s, self.cluster_head.assignment_terms(
            s, edge_index, edge_weight=edge_weight, generator=self.generators(s.device),
            as_match=warmup), warmup)

    def _seed_non_edges(self, seeds: Tensor, count: int) -> Tensor:
        """``count`` uniform ordered seed pairs ``[2, <= count]`` (local ids) that are not
        edges of the whole graph (nor self-pairs)."""
        size = seeds.numel()
        gen = self.generators(seeds.device)
        a = torch.randint(size, (count,), generator=gen, device=seeds.device)
        b = torch.randint(size, (count,), generator=gen, device=seeds.device)
        keep = a != b
        keys = self.global_edge_keys
        if keys is not None and keys.numel():
            cand = seeds[a] * self.global_num_nodes + seeds[b]
            pos = torch.searchsorted(keys, cand).clamp_(max=keys.numel() - 1)
            keep &= keys[pos] != cand
        return torch.stack([a[keep], b[keep]])

    def loss_batch(self, batch: Data, warmup: bool = False, **kwargs: Any) -> LossOutput:
        z, sub = self._seed_batch(batch)
        count = max(1, int(round(self.eta * max(sub.edge_index.size(1), 1))))
        neg = self._seed_non_edges(sub.seeds, count)
        info = SBMBatch(self._edge_weights(sub), self.global_deg[sub.seeds].to(z.dtype),
                        self.global_edge_total, sub.pair_scale, sub.node_scale)
        s = self.cluster_head.assign(z)
        return self._output(s, self.cluster_head.assignment_terms(
            s, sub.edge_index, num_neg_samples=count, neg_edge_index=neg, batch=info,
            as_match=warmup), warmup)
