"""Shared pieces of the joint heads trained on a graph objective (MinCut, Neuromap, SBM).

* :class:`SoftAssignmentHead` — soft assignments :math:`\\mathbf{S} =
  \\mathrm{softmax}((\\mathbf{Z}\\mathbf{W}^\\top + \\mathbf{b}) / \\tau)`, hard labels, centre
  initialisation; the heads add their loss on top.
* :func:`seed_subgraph` — what a neighbour-sampled batch says about the whole graph: the
  edges among the seed nodes with the inverse-inclusion weights that make sums over them
  unbiased estimates of whole-graph sums (the estimator DMoN's mini-batch loss uses).
* :func:`xlogx` — :math:`x \\log x` with the limit 0 at 0 and a finite gradient there.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import Tensor
from torch.nn import Linear
from torch.nn.utils import skip_init
from torch_geometric.data import Data

from pyagc.clusters.base import BaseClusterHead
from pyagc.clusters.kmeans import TorchKMeans
from pyagc.ops.degree import degree
from pyagc.ops.sparse import csr_matmul, transpose_csr
from pyagc.utils.cache import TensorCache
from pyagc.utils.validation import check_scalar

__all__ = ["SoftAssignmentHead", "SeedSubgraph", "seed_subgraph", "xlogx",
           "adjacency_product", "sparse_product"]


def xlogx(x: Tensor) -> Tensor:
    """:math:`x \\log x` elementwise, 0 where ``x <= 0`` (value and gradient stay finite)."""
    positive = x > 0
    safe = torch.where(positive, x, torch.ones_like(x))
    return torch.where(positive, safe * torch.log(safe), torch.zeros_like(x))


_last_transpose = TensorCache(transpose_csr)


def sparse_product(adj: Tensor, s: Tensor) -> Tensor:
    """``adj @ s`` for a constant ``torch.sparse_csr`` matrix ``adj`` ``[n, n]`` and dense ``s``
    ``[n, k]``; the gradient w.r.t. ``s`` uses a transpose of ``adj`` cached for the last
    matrix seen (full-batch training multiplies by the same matrix every epoch)."""
    if adj.requires_grad or not s.requires_grad:
        return torch.sparse.mm(adj, s)
    return csr_matmul(adj, s, _last_transpose(adj))


def adjacency_product(s: Tensor, edge_index: Tensor,
                      edge_weight: Optional[Tensor] = None) -> Tensor:
    """:math:`\\mathbf{A}\\mathbf{S}` (row ``i`` sums ``w_ji s_j`` over edges ``j -> i``) from a
    CSR ``adj_t`` (SpMM) or a ``[2, E]`` edge list (gather / index_add). ``[n, k]``."""
    if edge_index.layout == torch.sparse_csr:
        return sparse_product(edge_index, s)
    src, dst = edge_index
    msg = s[src] if edge_weight is None else s[src] * edge_weight.to(s.dtype).unsqueeze(-1)
    return torch.zeros_like(s).index_add_(0, dst, msg)


_INITS = ("orthogonal", "xavier")


def check_head_sizes(n_clusters: int, n_features: int) -> None:
    check_scalar(n_clusters, "n_clusters", int, min_val=2)
    check_scalar(n_features, "n_features", int, min_val=1)


class SoftAssignmentHead(BaseClusterHead):
    r"""A linear scoring of the embedding followed by a (tempered) softmax.

    :math:`\mathbf{S} = \mathrm{softmax}((\mathbf{Z}\mathbf{W}^\top + \mathbf{b})/\tau)`,
    ``[n, k]``; ``cluster`` gives its argmax (or ``S`` with ``soft=True``).

    ``init='orthogonal'`` (default; DMoN's head) starts the projection orthogonal, so each
    cluster starts from a different direction of the embedding. ``init='xavier'`` draws the
    rows of :math:`\mathbf{W}` (the cluster centres) Glorot-uniform, once (the parameters are
    not drawn twice at construction, so a seed gives the same centres as one
    ``xavier_uniform_`` call on a ``[k, H]`` tensor). ``bias=False`` scores by the inner
    product :math:`\langle\mathbf{z}, \boldsymbol\mu_c\rangle` with the centres alone.
    :meth:`reset_cluster_centers` scores clusters by distance to given centres (with a bias) or
    by inner product with them (without); :meth:`start_from_kmeans` starts the head at a
    soft KMeans partition of an embedding (what the joint models built on it do by default).
    """

    def __init__(self, n_clusters: int, n_features: int, temperature: float = 1.0,
                 dropout: float = 0.0, init: str = "orthogonal", bias: bool = True) -> None:
        super().__init__()
        check_head_sizes(n_clusters, n_features)
        check_scalar(temperature, "temperature", (int, float), min_val=0,
                     include_boundaries="neither")
        check_scalar(dropout, "dropout", (int, float), min_val=0, max_val=1,
                     include_boundaries="left")
        if init not in _INITS:
            raise ValueError(f"init must be one of {', '.join(map(repr, _INITS))}, got "
                             f"{init!r}.")
        self.n_clusters = n_clusters
        self.n_features = n_features
        self.temperature = float(temperature)
        self.dropout = float(dropout)
        self.init = init
        if init == "orthogonal":
            self.lin = Linear(n_features, n_clusters, bias=bool(bias))
        else:  # no default draw before ours: the seed alone fixes the centres
            self.lin = skip_init(Linear, n_features, n_clusters, bias=bool(bias))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.init == "orthogonal":
            torch.nn.init.orthogonal_(self.lin.weight)
        else:
            torch.nn.init.xavier_uniform_(self.lin.weight)
        if self.lin.bias is not None:
            torch.nn.init.zeros_(self.lin.bias)

    @torch.no_grad()
    def reset_cluster_centers(self, cluster_centers: Optional[Tensor] = None) -> None:
        """Score clusters by closeness to ``cluster_centers [k, H]`` (None: fresh init)."""
        if cluster_centers is None:
            self.reset_parameters()
            return
        self.check_cluster_centers(cluster_centers)
        self.lin.weight.copy_(cluster_centers)
        if self.lin.bias is not None:
            # <z, mu_c> - |mu_c|^2 / 2 ranks clusters like -|z - mu_c|^2 / 2.
            self.lin.bias.copy_(-0.5 * (cluster_centers * cluster_centers).sum(dim=1))

    @torch.no_grad()
    def start_from_kmeans(self, z: Tensor, random_state: int) -> Tensor:
        r"""Start the assignments from KMeans on the embedding ``z`` ``[n, H]`` (before any
        training step); returns the centres ``[k, H]``.

        With a bias the head scores clusters by squared distance to the KMeans centres
        :math:`\boldsymbol\mu_c`: logits :math:`-\lVert\mathbf{z} - \boldsymbol\mu_c
        \rVert^2 / (2\bar d)` up to a per-row constant, with :math:`\bar d` the mean
        squared distance of the rows of ``z`` to the centres. Without one (a head scored by
        inner product) KMeans runs on the directions of ``z`` (cosine) and the logits are
        :math:`\langle\mathbf{z}, \hat{\boldsymbol\mu}_c\rangle / \overline{\lVert
        \mathbf{z}\rVert}`. Either way the softmax starts at the KMeans partition but soft
        (logit gaps of order 1, so the graph objective can still move every node), rather
        than near uniform, where a random head leaves the objective to pick one of many
        basins by chance. The temperature is compensated, so it does not sharpen this start.
        """
        z = z.detach()
        if self.lin.bias is not None:
            kmeans = TorchKMeans(n_clusters=self.n_clusters, n_init=10,
                                 random_state=random_state).fit(z)
            centers = kmeans.cluster_centers_.to(z.dtype)
            scale = self.temperature / torch.cdist(z, centers).pow(2).mean().clamp(min=1e-12)
            self.lin.weight.copy_(scale * centers)
            self.lin.bias.copy_(-0.5 * scale * (centers * centers).sum(dim=1))
        else:
            kmeans = TorchKMeans(n_clusters=self.n_clusters, n_init=10, metric="cosine",
                                 random_state=random_state).fit(z)
            centers = torch.nn.functional.normalize(kmeans.cluster_centers_.to(z.dtype), dim=1)
            scale = self.temperature / z.norm(dim=1).mean().clamp(min=1e-12)
            self.lin.weight.copy_(scale * centers)
        return centers

    def _logits(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.size(1) != self.n_features:
            raise ValueError(f"z must have shape [n, {self.n_features}], got {list(z.shape)}.")
        return self.lin(z) / self.temperature

    def assign(self, z: Tensor) -> Tensor:
        """Soft assignments ``S`` ``[n, k]`` (rows sum to 1); ``dropout`` on the logits while
        training."""
        logits = torch.nn.functional.dropout(self._logits(z), self.dropout, self.training)
        return torch.softmax(logits, dim=-1)

    @torch.no_grad()
    def cluster(self, z: Tensor, soft: bool = False) -> Tensor:
        s = torch.softmax(self._logits(z), dim=-1)
        return s if soft else s.argmax(dim=-1)

    def extra_repr(self) -> str:
        return f"n_clusters={self.n_clusters}, n_features={self.n_features}"


class SeedSubgraph(NamedTuple):
    """The seed part of a neighbour-sampled batch (see :func:`seed_subgraph`)."""

    seeds: Tensor         #: global ids of the ``n`` seed nodes ``[n]``
    edge_index: Tensor    #: local edges ``j -> i`` among the seeds ``[2, e]``
    weight: Tensor        #: inverse-inclusion weight of each of these edges ``[e]``
    edge_weight: Optional[Tensor]  #: the graph's own weights of these edges, if any ``[e]``
    node_scale: float     #: ``N / n``: a sum over seeds times this estimates a sum over nodes
    pair_scale: float     #: ``N(N-1) / (n(n-1))``: the same for sums over ordered pairs


def seed_subgraph(batch: Data, num_edges_per_node: Tensor, num_nodes: int,
                  dtype: torch.dtype = torch.float32) -> SeedSubgraph:
    r"""Edges among the seeds of a neighbour-sampled ``batch`` with estimator weights.

    The seeds (the first ``batch.batch_size`` nodes) are a uniform sample of ``n`` of the
    ``N`` nodes, and the sampler kept ``c_i`` of the ``n_i`` in-edges of seed ``i``
    uniformly (``num_edges_per_node`` holds the whole graph's ``n_i``). An edge ``j -> i``
    between two seeds is kept with probability :math:`\frac{n(n-1)}{N(N-1)}\frac{c_i}{n_i}`, so
    weighting it by :math:`\frac{n_i}{c_i}` and the sum by ``pair_scale`` gives an unbiased
    estimate of the sum of any edge function over the whole graph (for fixed parameters).
    A batch holding every node with all its neighbours gives the whole graph exactly.
    """
    if getattr(batch, "n_id", None) is None:
        raise ValueError("The batch has no n_id (global node ids); use "
                         "pyagc.sampling.NeighborLoader.")
    size = int(batch.batch_size)
    if size < 2:
        raise ValueError("A mini-batch loss needs at least two seed nodes per batch.")
    edge_index = batch.edge_index
    to_seed = edge_index[1] < size
    seed_edges = edge_index[:, to_seed]
    sampled = degree(seed_edges, size, dtype=dtype)
    keep = seed_edges[0] < size
    inner = seed_edges[:, keep]
    seeds = batch.n_id[:size]
    count = num_edges_per_node.to(seeds.device)[seeds].to(dtype)
    weight = count[inner[1]] / sampled[inner[1]]
    edge_weight = getattr(batch, "edge_weight", None)
    if edge_weight is not None:
        edge_weight = edge_weight[to_seed][keep].to(dtype)
    total = int(num_nodes)
    return SeedSubgraph(seeds, inner, weight, edge_weight, total / size,
                        total * (total - 1) / (size * (size - 1)))
