"""Neuromap: the map equation as a differentiable loss for a GNN.

Blöcker, Tan and Scholtes, "The Map Equation Goes Neural: Mapping Network Flows with Graph
Neural Networks", NeurIPS 2024.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor
from torch.nn import Module
from torch_geometric.data import Data

from pyagc.clusters.neuromap_head import NeuromapClusterHead
from pyagc.models.base import LossOutput
from pyagc.models.graph_objective import GraphObjectiveModel
from pyagc.utils.validation import check_scalar

__all__ = ["Neuromap"]


class Neuromap(GraphObjectiveModel):
    r"""Differentiable map equation on GNN soft assignments (Blöcker et al., NeurIPS 2024).

    Soft assignments :math:`\mathbf{S} = \mathrm{softmax}(\mathrm{Lin}(\mathcal{E}(\mathbf{X},
    \mathbf{A})))` (:class:`~pyagc.clusters.NeuromapClusterHead`) trained on the two-level map
    equation of their soft module flow :math:`\mathbf{C} = \mathbf{S}^\top\mathbf{F}\mathbf{S}`
    plus DMoN's collapse regulariser:

    .. math::
        \mathcal{L} = q\log q - \sum_m q_m\log q_m - \sum_m e_m\log e_m - \sum_u p_u\log p_u
        + \sum_m (e_m + p_m)\log(e_m + p_m)
        + \lambda\Bigl(\frac{\sqrt{k}}{N}\bigl\|\textstyle\sum_i\mathbf{S}_i\bigr\|_2 - 1\Bigr)

    (enter flows :math:`q_m`, exit flows :math:`e_m`, module visit rates :math:`p_m`; see
    :func:`~pyagc.clusters.neuromap_head.map_equation`; bits). The node visit rates
    :math:`p_u` and the sparse link-flow matrix :math:`\mathbf{F}` come from ``n_iters``
    steps of teleporting power iteration (teleportation ``alpha``), computed once per graph
    (:func:`~pyagc.clusters.neuromap_head.compute_flow`). Cost per step :math:`O(E\,k +
    N\,k^2)`. ``forward`` returns hard labels ``[N]``; ``n_clusters`` is the largest number
    of modules (the map equation may leave some empty). Loss components: ``codelength`` and
    ``collapse``.

    *Start* (``head_init``). The documented call with the published settings (1-layer GCN 64,
    SELU, dropout 0.5, ``lam=5``, Adam lr 1e-3, weight decay 1e-5, 1000 epochs, patience 50)
    gave 44.83 +- 2.67 NMI over seeds 0-9 from a random head (45.65 over seeds 0-4; the
    paper 46.98): with ``S`` near uniform at the start, the seed picks the basin (all seven
    modules stay in use, balanced by the collapse term; modularity 71.4-74.5 followed NMI).
    Starting the head at a soft KMeans partition of the untrained encoder's embedding
    (``'kmeans'``, the default): **49.79 +- 1.47 NMI / 62.69 ACC over seeds 0-9, 49.36 over
    seeds 0-4** (``benchmarks/bench_documented.py --methods neuromap --seeds 0 ... 9``).

    Args:
        encoder: maps ``(x, edge_index)`` to ``[N, n_features]``.
        n_features: width of the encoder output.
        n_clusters: largest number of modules ``k``.
        lam: weight :math:`\lambda` of the collapse regulariser (``>= 0``).
        alpha: teleportation probability of the flow (``[0, 1]``).
        n_iters: power-iteration steps of the flow (``>= 1``).
        head_init: ``'kmeans'`` (default): the first training step starts the head at a soft
            KMeans partition of the untrained encoder's embedding
            (:meth:`~pyagc.clusters.soft_assignment.SoftAssignmentHead.start_from_kmeans`);
            ``'random'``: at its Glorot-uniform draw (see *Start*).

    Mini-batch (:meth:`loss_batch`; :meth:`prepare` first, which also computes the whole
    graph's flow): the visit rates, the per-link flow coefficients and the node entropy are
    the whole graph's. On the seeds of a sampled batch, the flow of each kept seed edge
    weighted by its inverse inclusion probability makes the batch's module flow matrix
    :math:`\mathbf{C}` and module visit rates :math:`\mathbf{S}^\top\mathbf{p}` unbiased
    estimates of the whole-graph ones for fixed parameters; the codelength (a non-linear
    function of them) and the collapse term (seeds' mean assignment) are plug-in estimates.
    A batch holding every node with all neighbours gives the full loss.
    """

    def __init__(self, encoder: Module, n_features: int, n_clusters: int, lam: float = 1.0,
                 alpha: float = 0.15, n_iters: int = 100, head_init: str = "kmeans") -> None:
        super().__init__(encoder, head_init)
        check_scalar(lam, "lam", (int, float), min_val=0)
        self.cluster_head = NeuromapClusterHead(n_clusters, n_features, alpha, n_iters)
        self.n_clusters = n_clusters
        self.lam = float(lam)
        self.register_buffer("global_visit_rate", None, persistent=False)
        self.register_buffer("global_flow_coef", None, persistent=False)
        self.global_node_entropy: Optional[float] = None

    def set_graph_statistics(self, data: Data) -> None:
        """Also compute (and remember) the whole graph's flow for :meth:`loss_batch`."""
        super().set_graph_statistics(data)
        flow = self.cluster_head.build_flow(data.edge_index, int(data.num_nodes),
                                            getattr(data, "edge_weight", None))
        self.global_visit_rate = flow.visit_rate.to(self.device)
        self.global_flow_coef = flow.coef.to(self.device)
        self.global_node_entropy = flow.node_entropy

    def _output(self, codelength: Tensor, collapse: Tensor) -> LossOutput:
        return LossOutput(codelength + self.lam * collapse,
                          {"codelength": codelength, "collapse": collapse})

    def loss(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
             **kwargs: Any) -> LossOutput:
        z = self._training_embedding(x, edge_index, edge_weight)
        return self._output(*self.cluster_head(z, edge_index, edge_weight))

    def loss_batch(self, batch: Data, **kwargs: Any) -> LossOutput:
        z, sub = self._seed_batch(batch)
        coef = self.global_flow_coef.to(z.dtype)[sub.seeds]
        link_flow = coef[sub.edge_index[0]] * self._edge_weights(sub)
        visit = self.global_visit_rate.to(z.dtype)[sub.seeds]
        return self._output(*self.cluster_head(
            z, sub.edge_index, flow=(link_flow, visit, self.global_node_entropy),
            pair_scale=sub.pair_scale, node_scale=sub.node_scale))
