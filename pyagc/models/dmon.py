"""Deep Modularity Networks.

Tsitsulin et al., "Graph Clustering with Graph Neural Networks", JMLR 2023.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor
from torch.nn import Module
from torch_geometric.data import Data
from torch_geometric.nn.inits import reset

from pyagc.clusters.dmon_head import DMoNClusterHead
from pyagc.models.base import ClusteringModel, LossOutput
from pyagc.ops.degree import degree
from pyagc.utils.validation import check_scalar

__all__ = ["DMoN"]


class DMoN(ClusteringModel):
    r"""Deep modularity networks (Tsitsulin et al., JMLR 2023).

    Deep Modularity Network: soft assignments :math:`\mathbf{S} =
    \mathrm{softmax}(\mathrm{Lin}(\mathcal{E}(\mathbf{X}, \mathbf{A})))` trained on

    .. math::
        \mathcal{L} = -\frac{1}{2m}\mathrm{Tr}(\mathbf{S}^\top\mathbf{B}\mathbf{S})
        + \lambda\Bigl(\frac{\sqrt{k}}{N}\bigl\|\textstyle\sum_i\mathbf{S}_i\bigr\|_F - 1\Bigr),
        \qquad \mathbf{B} = \mathbf{A} - \frac{\mathbf{d}\mathbf{d}^\top}{2m}

    computed in :math:`O(E\,k)` (see :func:`~pyagc.clusters.dmon_head.spectral_modularity_loss`).
    ``forward`` returns hard labels ``[N]``; ``embed`` the encoder output ``[N, H]``.

    *Start* (``head_init``). The documented call with the published settings (1-layer GCN 64,
    SELU, dropout 0.5, Adam lr 1e-3, weight decay 1e-5, 1000 epochs, patience 50) gave 42.18
    NMI over seeds 0-4 from the orthogonal head (the paper 43.84; modularity 67.5-70.7,
    conductance 16.4-19.3; with the KMeans start 10.7-15.8).
    Starting the head at a soft KMeans partition of the untrained encoder's embedding
    (``'kmeans'``, the default) reaches better optima of DMoN's own objective (modularity
    71.7-74.6, seeds 0-4) and **47.83 +- 1.83 NMI / 60.44 ACC over seeds 0-9, 49.12 over seeds 0-4**
    (``benchmarks/bench_documented.py --methods dmon --seeds 0 ... 9``).

    Args:
        encoder: maps ``(x, edge_index)`` to ``[N, n_features]``.
        n_features: width of the encoder output.
        n_clusters: number of clusters ``k``.
        lam: weight :math:`\lambda` of the collapse regulariser.
        dropout: dropout on the assignment logits (the paper's head, 0.5 there); default 0.
        head_init: ``'kmeans'`` (default): the first training step starts the head at a soft
            KMeans partition of the untrained encoder's embedding
            (:meth:`~pyagc.clusters.soft_assignment.SoftAssignmentHead.start_from_kmeans`);
            ``'random'``: at the orthogonal projection (see *Start*).

    Set-up: the DMoN paper's encoder is a GCN layer with a skip connection and SELU
    (``create_tuned_gnn('gcn', F, 64, 1, act='selu', act_last=True, residual=True)``) and its
    head drops 0.5 of the logits (``dropout=0.5``); the published configuration's
    ``act_last=False`` leaves the one-layer encoder linear (figures of both in
    ``pyagc/configs/DMoN.yaml`` and ``benchmarks/bench_deep.py``). The head's projection
    is drawn orthogonal (as in the paper) and, by default, replaced on the first training
    step by the KMeans start (see *Start*).

    Mini-batch (:meth:`loss_batch`, needs :meth:`set_graph_statistics` once): with seeds drawn
    uniformly, the loss is evaluated on the seeds only, on the edges the sampler returned among
    them, with the whole graph's (weighted) degrees :math:`d_i` and :math:`2m = \sum_i d_i`.
    Each such edge :math:`j \to i` of weight :math:`w_{ji}` (``batch.edge_weight``, 1 without
    weights) counts :math:`w_{ji}\,n_i / c_i` (:math:`n_i` = in-edges of :math:`i` in the whole
    graph, :math:`c_i` = those sampled for seed :math:`i`: :math:`n_i / c_i` is the inverse
    inclusion probability under uniform neighbour sampling) and the pair
    sums are rescaled by :math:`N(N-1)/(n(n-1))` (diagonal: :math:`N/n`), which makes the batch's
    :math:`\mathrm{Tr}(\mathbf{S}^\top\mathbf{B}\mathbf{S})` an unbiased estimate of the full one
    for fixed parameters. The collapse term uses the seeds' mean assignment (a consistent plug-in
    estimate). Estimates are noisy when ``batch_size^2 / N`` edges per batch are few: use
    large batches.
    """

    family = "deep-joint"
    supports_mini_batch = True

    def __init__(self, encoder: Module, n_features: int, n_clusters: int, lam: float = 1.0,
                 dropout: float = 0.0, head_init: str = "kmeans") -> None:
        super().__init__()
        if not isinstance(encoder, Module):
            raise TypeError(f"encoder must be a torch.nn.Module, got {type(encoder).__name__}.")
        check_scalar(lam, "lam", (int, float), min_val=0)
        self.encoder = encoder
        self.cluster_head = DMoNClusterHead(n_clusters, n_features, dropout)
        self.n_clusters = n_clusters
        self.lam = float(lam)
        self.register_buffer("global_deg", None, persistent=False)
        self.register_buffer("global_num_edges", None, persistent=False)
        self.global_two_m: Optional[float] = None
        self._register_head_start(head_init)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset(self.encoder)
        self.cluster_head.reset_parameters()
        self._reset_head_start()

    def prepare(self, data: Data) -> None:
        """The whole graph's statistics for mini-batch losses (:meth:`set_graph_statistics`)."""
        self.set_graph_statistics(data)

    def set_graph_statistics(self, data: Data) -> None:
        """Remember the whole graph's weighted degrees (``data.edge_weight`` if present),
        :math:`2m` and in-edge counts for :meth:`loss_batch`."""
        edge_index, num_nodes = data.edge_index, data.num_nodes
        weight = getattr(data, "edge_weight", None)
        # float64: 2m sums many values; loss_batch casts to the model's dtype.
        count = degree(edge_index, num_nodes, dtype=torch.float64)
        deg = count if weight is None else degree(edge_index, num_nodes, weight, torch.float64)
        self.global_deg = deg.to(self.device)
        self.global_num_edges = count.to(self.device)
        self.global_two_m = float(deg.sum())
        if self.global_two_m <= 0:
            raise ValueError("The graph has no edges: DMoN's modularity is undefined.")

    def embed(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
              **kwargs: Any) -> Tensor:
        if edge_weight is not None:
            kwargs["edge_weight"] = edge_weight
        return self.encoder(x, edge_index, **kwargs)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                **kwargs: Any) -> Tensor:
        """Hard cluster labels ``[N]``."""
        return self.cluster_head.cluster(self.embed(x, edge_index, edge_weight, **kwargs))

    def _output(self, spectral: Tensor, collapse: Tensor) -> LossOutput:
        return LossOutput(spectral + self.lam * collapse,
                          {"spectral": spectral, "collapse": collapse})

    def loss(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
             **kwargs: Any) -> LossOutput:
        z = self._embed_for_loss(lambda: self.embed(x, edge_index, edge_weight))
        return self._output(*self.cluster_head(z, edge_index, edge_weight=edge_weight))

    def loss_batch(self, batch: Data, **kwargs: Any) -> LossOutput:
        if self.global_deg is None:
            raise ValueError("Mini-batch DMoN needs the whole graph's degrees: call "
                             "model.set_graph_statistics(data) once before train_batch.")
        if getattr(batch, "n_id", None) is None:
            raise ValueError("The batch has no n_id (global node ids); use "
                             "pyagc.sampling.NeighborLoader.")
        size = int(batch.batch_size)
        z = self._embed_for_loss(lambda: self._encode_seed_rows(batch))
        edge_index = batch.edge_index
        to_seed = edge_index[:, edge_index[1] < size]
        sampled = degree(to_seed, size, dtype=z.dtype)
        keep = to_seed[0] < size
        inner = to_seed[:, keep]
        seeds = batch.n_id[:size]
        deg = self.global_deg[seeds].to(z.dtype)
        count = self.global_num_edges[seeds].to(z.dtype)
        weight = count[inner[1]] / sampled[inner[1]]
        edge_weight = getattr(batch, "edge_weight", None)
        if edge_weight is not None:
            weight = weight * edge_weight[edge_index[1] < size][keep].to(z.dtype)
        spectral, collapse = self.cluster_head(
            z, inner, deg=deg, two_m=self.global_two_m, edge_weight=weight,
            sample_fraction=(size, int(self.global_deg.numel())))
        return self._output(spectral, collapse)
