"""Shared plumbing of the joint models that train a soft-assignment head on a graph objective
(:class:`~pyagc.models.MinCut`, :class:`~pyagc.models.Neuromap`, :class:`~pyagc.models.GCSBM`):
encoder checks, whole-graph statistics for mini-batch losses, hard labels."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
from torch import Tensor
from torch.nn import Module
from torch_geometric.data import Data
from torch_geometric.nn.inits import reset

from pyagc.clusters.soft_assignment import SeedSubgraph, seed_subgraph
from pyagc.models.base import ClusteringModel
from pyagc.ops.degree import degree

__all__ = ["GraphObjectiveModel"]


class GraphObjectiveModel(ClusteringModel):
    """Encoder + ``self.cluster_head`` (a soft-assignment head); ``forward`` gives its argmax.

    :meth:`set_graph_statistics` (called by :meth:`prepare`, once per graph) remembers the
    whole graph's node count, in-edge counts and (weighted) degrees, which :meth:`loss_batch`
    of a subclass needs to turn a sampled batch into whole-graph estimates.

    ``head_init='kmeans'``: the first training step starts the head at a soft KMeans
    partition of the untrained encoder's embedding (the whole graph, or the first batch's
    seeds); ``'random'``: at the head's own random initialisation (see
    :meth:`~pyagc.models.ClusteringModel._embed_for_loss`). Subclasses embed for their losses
    through :meth:`_training_embedding` / :meth:`_seed_batch`, which apply it.
    """

    family = "deep-joint"
    supports_mini_batch = True
    cluster_head: Module

    def __init__(self, encoder: Module, head_init: str = "kmeans") -> None:
        super().__init__()
        if not isinstance(encoder, Module):
            raise TypeError(f"encoder must be a torch.nn.Module, got {type(encoder).__name__}.")
        self.encoder = encoder
        self._register_head_start(head_init)
        self.register_buffer("global_deg", None, persistent=False)
        self.register_buffer("global_num_edges", None, persistent=False)
        self.global_num_nodes: Optional[int] = None
        self.global_edge_total: Optional[float] = None

    def reset_parameters(self) -> None:
        reset(self.encoder)
        self.cluster_head.reset_parameters()
        self._reset_head_start()

    def prepare(self, data: Data) -> None:
        """The whole graph's statistics for mini-batch losses (:meth:`set_graph_statistics`)."""
        self.set_graph_statistics(data)

    def set_graph_statistics(self, data: Data) -> None:
        """Remember ``N``, the in-edge counts, the (weighted) degrees and the edge total."""
        edge_index, num_nodes = data.edge_index, int(data.num_nodes)
        weight = getattr(data, "edge_weight", None)
        count = degree(edge_index, num_nodes, dtype=torch.float64)
        deg = count if weight is None else degree(edge_index, num_nodes, weight, torch.float64)
        if float(deg.sum()) <= 0:
            raise ValueError(f"The graph has no edges: {type(self).__name__}'s objective is "
                             "undefined.")
        self.global_deg = deg.to(self.device)
        self.global_num_edges = count.to(self.device)
        self.global_num_nodes = num_nodes
        self.global_edge_total = float(deg.sum())

    def embed(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
              **kwargs: Any) -> Tensor:
        if edge_weight is not None:
            kwargs["edge_weight"] = edge_weight
        return self.encoder(x, edge_index, **kwargs)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                **kwargs: Any) -> Tensor:
        """Hard cluster labels ``[N]``."""
        return self.cluster_head.cluster(self.embed(x, edge_index, edge_weight, **kwargs))

    def _training_embedding(self, x: Tensor, edge_index: Tensor,
                            edge_weight: Optional[Tensor] = None) -> Tensor:
        """:meth:`embed` for a full-graph loss (the head starts first, see ``head_init``)."""
        return self._embed_for_loss(lambda: self.embed(x, edge_index, edge_weight))

    def _seed_batch(self, batch: Data) -> Tuple[Tensor, SeedSubgraph]:
        """Seed embeddings ``[n, H]`` (the encoder with per-hop trimming: only the rows
        the seeds depend on are computed) and the seed subgraph with estimator weights."""
        if self.global_deg is None:
            raise ValueError(f"Mini-batch {type(self).__name__} needs the whole graph's "
                             "statistics: call model.set_graph_statistics(data) (or "
                             "model.prepare(data)) once before train_batch.")
        z = self._embed_for_loss(lambda: self._encode_seed_rows(batch))
        sub = seed_subgraph(batch, self.global_num_edges, self.global_num_nodes, z.dtype)
        return z, sub

    @staticmethod
    def _edge_weights(sub: SeedSubgraph) -> Tensor:
        """Estimator weight times the graph's own weight, per seed edge."""
        return sub.weight if sub.edge_weight is None else sub.weight * sub.edge_weight
