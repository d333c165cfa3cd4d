r"""Positive pairs from the modularity of a random-walk similarity, and MAGI's two-stage
random-walk mini-batches.

From "Revisiting Modularity Maximization for Graph Clustering: A Contrastive Learning
Perspective" (Liu et al., KDD 2024). The modularity matrix of a weighted graph :math:`W`,

.. math::
    B_{ij} = W_{ij} - \frac{d_i d_j}{2m}, \qquad d_i = \sum_j W_{ij}, \quad
    2m = \sum_{ij} W_{ij},

compares the weight between :math:`i` and :math:`j` with its expectation under the
configuration model; MAGI calls :math:`(i, j)` a positive pair when :math:`B_{ij} > 0` and a
negative one otherwise. :math:`W` is not the adjacency but a high-order proximity measured by
random walks: :math:`S_{ij}` counts the visits to :math:`j` of ``num_walks`` walks of
``walk_length`` steps started at :math:`i`, so
:math:`\mathbb{E}[S] = \text{num\_walks}\cdot(P + P^2 + \dots + P^{L})` with
:math:`P = D^{-1}A`; :math:`W = S + S^\top` with its diagonal dropped makes it symmetric
(walks from either end count) and leaves out self-pairs. Only pairs with :math:`W_{ij} > 0`
can be positive, so everything here is sparse:
the cost is that of the walks, :math:`O(N \cdot \text{num\_walks} \cdot L)`, never
:math:`N^2`.

* :func:`modularity_positive_pairs` — the pairs of a given weighted (walk-count) graph.
* :func:`walk_positive_pairs` — walk counts from every node, then the pairs (full graph).
* :class:`MAGIRandomWalkSampler` — the two stages of a mini-batch: stage 1 expands the
  batch's root nodes to the sub-communities their walks visit most, stage 2 computes the
  modularity pairs among the expanded nodes from walks restricted to them.
* :class:`MAGINeighborLoader` — neighbour-sampled mini-batches whose seeds are the expanded
  nodes, carrying ``pos_pairs`` and ``expanded_batch_size``.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.data import Data

from pyagc.sampling.csr import CompressedGraph
from pyagc.sampling.neighbor_loader import PairSeedLoader
from pyagc.sampling.neighbor_sampler import _default_seed
from pyagc.sampling.random_walk import random_walk, walk_graph
from pyagc.utils.validation import check_scalar

__all__ = ["modularity_positive_pairs", "walk_counts", "walk_positive_pairs",
           "MAGIRandomWalkSampler", "MAGINeighborLoader"]

#: Walk steps generated at once by :func:`walk_counts` (bounds its memory, ~100 MB).
WALK_CHUNK_STEPS = 1 << 22


def _count_keys(keys: Tensor) -> Tuple[Tensor, Tensor]:
    """Distinct values of ``keys`` and their multiplicities."""
    return torch.unique(keys, sorted=True, return_counts=True)


def modularity_positive_pairs(row: Tensor, col: Tensor, weight: Optional[Tensor],
                              num_nodes: int) -> Tensor:
    r"""Pairs :math:`(i, j)`, :math:`i \ne j`, with a positive modularity
    :math:`B_{ij} = W_{ij} - d_i d_j / 2m` in the symmetrised graph
    :math:`W = S + S^\top` of the weighted edges ``S[row, col] = weight``.

    Repeated ``(row, col)`` entries add up; self-loops are ignored. Works on the sparse
    entries only (a pair without weight has :math:`B_{ij} \le 0`).

    Args:
        row, col (Tensor): ``[K]`` node ids in ``[0, num_nodes)``.
        weight (Tensor, optional): ``[K]`` non-negative weights (default: 1 each).
        num_nodes (int): number of nodes.

    Returns:
        LongTensor ``[2, P]``, symmetric (``(j, i)`` is there with ``(i, j)``), sorted by
        ``(i, j)``.

    Example (two triangles joined by the edge 2-3, adjacency as :math:`S`)::

        >>> ei = torch.tensor([[0, 0, 1, 3, 3, 4, 2], [1, 2, 2, 4, 5, 5, 3]])
        >>> modularity_positive_pairs(ei[0], ei[1], None, 6)  # every edge: B = 1 - d_i d_j / 28
    """
    num_nodes = check_scalar(num_nodes, "num_nodes", int, min_val=0)
    if row.shape != col.shape or row.dim() != 1:
        raise ValueError("row and col must be 1-D tensors of the same length.")
    device = row.device
    row, col = row.long(), col.long()
    if weight is None:
        weight = torch.ones(row.numel(), dtype=torch.float64, device=device)
    else:
        if weight.shape != row.shape:
            raise ValueError("weight must have one entry per (row, col) pair.")
        weight = weight.to(torch.float64)
        if weight.numel() and float(weight.min()) < 0:
            raise ValueError("weights must be non-negative (walk counts).")
    if row.numel() and (int(torch.minimum(row.min(), col.min())) < 0
                        or int(torch.maximum(row.max(), col.max())) >= num_nodes):
        raise ValueError(f"node ids must lie in [0, {num_nodes}).")
    off = row != col
    row, col, weight = row[off], col[off], weight[off]
    # W = S + S^T as sparse entries keyed i * N + j, summed per key.
    keys = torch.cat([row * num_nodes + col, col * num_nodes + row])
    values = torch.cat([weight, weight])
    uniq, inverse = torch.unique(keys, sorted=True, return_inverse=True)
    w = torch.zeros(uniq.numel(), dtype=torch.float64, device=device).index_add_(0, inverse,
                                                                                 values)
    i, j = uniq // num_nodes, uniq % num_nodes
    deg = torch.zeros(num_nodes, dtype=torch.float64, device=device).index_add_(0, i, w)
    two_m = deg.sum()
    if two_m <= 0:
        return torch.empty((2, 0), dtype=torch.long, device=device)
    # B_ij > 0  <=>  W_ij * 2m > d_i d_j  (no division, exact for integer counts).
    positive = w * two_m > deg[i] * deg[j]
    return torch.stack([i[positive], j[positive]])


def walk_counts(graph: CompressedGraph, start: Tensor, num_walks: int, walk_length: int,
                generator: Optional[torch.Generator] = None,
                targets: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
    r"""The walk similarity :math:`S` as sparse counts: ``num_walks`` walks of
    ``walk_length`` steps from every node of ``start``; ``S[a, v]`` = visits to node ``v`` by
    the walks from ``start[a]`` (the start position not counted, returns to the start
    counted; revisits counted each time).

    With ``targets`` (``[N]`` long, ``-1`` for nodes to ignore) only the visits to nodes with
    ``targets[v] >= 0`` are kept and the column is ``targets[v]`` (a local index).

    Returns:
        ``(a, v, count)``: start positions (index into ``start``), visited nodes (global ids,
        or ``targets`` ids), counts; one entry per distinct pair, sorted by ``(a, v)``.
    """
    walk_length = check_scalar(walk_length, "walk_length", int, min_val=1)
    num_walks = check_scalar(num_walks, "num_walks", int, min_val=1)
    n = start.numel()
    device = graph.device
    width = graph.num_nodes if targets is None else int(targets.numel())
    # Starts per chunk, so that at most WALK_CHUNK_STEPS steps are alive at once.
    per_chunk = max(1, WALK_CHUNK_STEPS // (num_walks * walk_length))
    out_a, out_v, out_c = [], [], []
    for lo in range(0, n, per_chunk):
        chunk = start[lo:lo + per_chunk]
        m = chunk.numel()
        # Walk r of start a is row r * m + a: start-major order is irrelevant once counted.
        walks = random_walk(graph, chunk.repeat(num_walks), walk_length, generator=generator)
        visited = walks[:, 1:]
        src = torch.arange(m, device=device).repeat(num_walks).unsqueeze(1).expand_as(visited)
        visited, src = visited.reshape(-1), src.reshape(-1)
        if targets is not None:
            visited = targets[visited]
            keep = visited >= 0
            visited, src = visited[keep], src[keep]
        uniq, count = _count_keys(src * width + visited)
        out_a.append(uniq // width + lo)
        out_v.append(uniq % width)
        out_c.append(count)
    if not out_a:
        empty = torch.empty(0, dtype=torch.long, device=device)
        return empty, empty.clone(), empty.clone()
    return torch.cat(out_a), torch.cat(out_v), torch.cat(out_c)


def _as_graph(edge_index: Union[Tensor, CompressedGraph],
              num_nodes: Optional[int]) -> CompressedGraph:
    if isinstance(edge_index, CompressedGraph):
        if edge_index.group_by != "source":
            raise ValueError("MAGI walks need a graph grouped by source: build it with "
                             "pyagc.sampling.walk_graph(edge_index).")
        return edge_index
    if not isinstance(edge_index, Tensor) or edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError("edge_index must be a [2, num_edges] tensor.")
    return walk_graph(edge_index, num_nodes)


def walk_positive_pairs(edge_index: Union[Tensor, CompressedGraph],
                        num_nodes: Optional[int] = None, num_walks: int = 100,
                        walk_length: int = 2,
                        generator: Optional[torch.Generator] = None) -> Tensor:
    r"""MAGI's positive pairs of the whole graph: the walk similarity :math:`S` from
    :func:`walk_counts` started at every node, then :func:`modularity_positive_pairs`.

    Time and memory :math:`O(N \cdot \text{num\_walks} \cdot \text{walk\_length})` (the
    walks are generated in chunks); the result has at most
    ``2 * N * num_walks * walk_length`` pairs.

    Returns:
        LongTensor ``[2, P]`` of global node ids, symmetric, no self-pairs.
    """
    graph = _as_graph(edge_index, num_nodes)
    start = torch.arange(graph.num_nodes, device=graph.device)
    a, v, count = walk_counts(graph, start, num_walks, walk_length, generator)
    return modularity_positive_pairs(a, v, count, graph.num_nodes)


class MAGIRandomWalkSampler:
    r"""MAGI's two-stage random walk over the batches of root nodes.

    * Stage 1 (:meth:`stage1_expand_batch`): from each root, ``num_walks`` walks of
      ``walk_length`` steps; the nodes a root's walks visit more often than the mean visit
      count of that root's visited nodes join the batch, with the roots themselves. The batch
      is thus a union of small sub-communities, not a scatter of unrelated nodes, so that it
      holds positive pairs at all.
    * Stage 2 (:meth:`stage2_compute_positive_pairs`): from each expanded node,
      ``num_walks`` walks of ``walk_length`` steps on the whole graph; the visits to expanded
      nodes form the batch's similarity :math:`S` (``|B| x |B|``, sparse), and its modularity
      gives the positive pairs (:func:`modularity_positive_pairs`), in local indices.

    Vectorised: each stage is one batch of walks and one sort, no loop over nodes; cost
    :math:`O(|B| \cdot \text{num\_walks} \cdot \text{walk\_length})` per batch.

    Args:
        edge_index (Tensor or CompressedGraph): the graph (``[2, E]``, row 0 = source), or
            :func:`~pyagc.sampling.walk_graph` of it.
        num_nodes (int, optional): number of nodes.
        num_walks (int): walks per node (``wt`` in the paper).
        walk_length (int): steps per walk (``wl`` in the paper).
        generator (torch.Generator, optional): randomness of the walks; ``seed`` seeds a
            private one instead; with neither, a seed is drawn from torch's global RNG.
    """

    def __init__(self, edge_index: Union[Tensor, CompressedGraph],
                 num_nodes: Optional[int] = None, num_walks: int = 20, walk_length: int = 4,
                 generator: Optional[torch.Generator] = None,
                 seed: Optional[int] = None) -> None:
        self.num_walks = check_scalar(num_walks, "num_walks", int, min_val=1)
        self.walk_length = check_scalar(walk_length, "walk_length", int, min_val=1)
        self.graph = _as_graph(edge_index, num_nodes)
        if generator is None:
            generator = torch.Generator(device=self.graph.device)
            generator.manual_seed(_default_seed() if seed is None else int(seed))
        elif seed is not None:
            raise ValueError("Give either seed or generator, not both.")
        self.generator = generator
        # Global id -> local id of the current expanded batch; -1 elsewhere (reset after use,
        # so each batch costs O(|B|), not O(N)).
        self._local = torch.full((self.graph.num_nodes,), -1, dtype=torch.long,
                                 device=self.graph.device)

    def _check_nodes(self, nodes: Tensor, what: str) -> Tensor:
        if not isinstance(nodes, Tensor) or nodes.dim() != 1:
            raise ValueError(f"{what} must be a 1-D tensor of node ids.")
        if nodes.dtype.is_floating_point or nodes.dtype == torch.bool:
            raise TypeError(f"{what} must hold integer node ids, got {nodes.dtype}.")
        nodes = nodes.to(device=self.graph.device, dtype=torch.long)
        if nodes.numel() and (int(nodes.min()) < 0 or int(nodes.max()) >= self.graph.num_nodes):
            raise ValueError(f"{what} ids must lie in [0, {self.graph.num_nodes}).")
        return nodes

    def stage1_expand_batch(self, root_nodes: Tensor) -> Tensor:
        """Roots plus the nodes each root's walks visit more often than that root's mean
        visit count; sorted unique global ids ``[|B|]``."""
        roots = self._check_nodes(root_nodes, "root_nodes")
        a, v, count = walk_counts(self.graph, roots, self.num_walks, self.walk_length,
                                  self.generator)
        per_root = torch.zeros(roots.numel(), dtype=torch.float64, device=roots.device)
        distinct = torch.zeros_like(per_root)
        per_root.index_add_(0, a, count.to(torch.float64))
        distinct.index_add_(0, a, torch.ones_like(per_root[a]))
        mean = per_root / distinct.clamp_(min=1)
        frequent = count.to(torch.float64) > mean[a]
        return torch.unique(torch.cat([roots, v[frequent]]))

    def stage2_compute_positive_pairs(self, expanded_batch: Tensor) -> Tensor:
        """Positive pairs among ``expanded_batch``, as local indices ``[2, P]`` into it."""
        nodes = self._check_nodes(expanded_batch, "expanded_batch")
        local = self._local
        local[nodes] = torch.arange(nodes.numel(), device=nodes.device)
        try:
            if int(local[nodes].ne(torch.arange(nodes.numel(), device=nodes.device)).sum()):
                raise ValueError("expanded_batch must not repeat a node.")
            a, v, count = walk_counts(self.graph, nodes, self.num_walks, self.walk_length,
                                      self.generator, targets=local)
        finally:
            local[nodes] = -1
        return modularity_positive_pairs(a, v, count, nodes.numel())

    def sample(self, root_nodes: Tensor) -> Tuple[Tensor, Tensor]:
        """Both stages: ``(expanded nodes [|B|], positive pairs [2, P] local to them)``."""
        expanded = self.stage1_expand_batch(root_nodes)
        return expanded, self.stage2_compute_positive_pairs(expanded)


class MAGINeighborLoader(PairSeedLoader):
    r"""Mini-batches for MAGI: each batch of ``batch_size`` root nodes is expanded by
    :class:`MAGIRandomWalkSampler` (two-stage random walk), and the expanded nodes are the
    seeds of a neighbour-sampled subgraph (:class:`~pyagc.sampling.NeighborLoader`).

    Each batch is a :class:`~torch_geometric.data.Data` as the neighbour loader makes it, with
    the expanded nodes first (``batch.batch_size == batch.expanded_batch_size`` rows, in the
    order of ``batch.n_id``) and

    * ``pos_pairs`` — ``[2, P]`` positive pairs among the expanded nodes, local indices
      (rows of the encoder output);
    * ``expanded_batch_size`` — number of expanded nodes;
    * ``num_roots`` — number of root nodes the batch grew from.

    Args:
        data (Data): the graph.
        num_neighbors (List[int]): fan-out per encoder layer.
        num_walks (int): walks per node in both stages.
        walk_length (int): steps per walk in both stages.
        batch_size (int): root nodes per batch.
        generator, seed: randomness of the shuffling, the walks and the neighbour sampling
            (each gets its own stream derived from it); as :class:`NeighborLoader`.
        **kwargs: further :class:`~pyagc.sampling.NeighborLoader` arguments (``shuffle``,
            ``input_nodes`` for the roots, ``backend``, ...).

    Example::

        >>> loader = MAGINeighborLoader(data, num_neighbors=[10], num_walks=20,
        ...                             walk_length=4, batch_size=2048, shuffle=True, seed=0)
        >>> batch = next(iter(loader))
        >>> z = encoder(batch.x, batch.edge_index)[:batch.expanded_batch_size]
        >>> i, j = batch.pos_pairs     # rows of z that form positive pairs
    """

    def __init__(self, data: Data, num_neighbors, num_walks: int = 20, walk_length: int = 4,
                 batch_size: int = 128, generator: Optional[torch.Generator] = None,
                 seed: Optional[int] = None, **kwargs) -> None:
        super().__init__(data, num_neighbors=num_neighbors, batch_size=batch_size,
                         generator=generator, seed=seed, **kwargs)
        self.walk_sampler = MAGIRandomWalkSampler(data.edge_index, data.num_nodes, num_walks,
                                                  walk_length, seed=self.stream_seed)

    def expand(self, roots: Tensor) -> Tuple[Tensor, Tensor]:
        return self.walk_sampler.sample(roots)

    def filter_fn(self, out):
        data = super().filter_fn(out)
        data.expanded_batch_size = int(data.batch_size)
        return data
        return data
