"""``pyagc.sampling.NeighborLoader``: PyG's NeighborLoader that also runs without extensions."""
from __future__ import annotations

from typing import Callable, List, Optional, Tuple

import torch
import torch_geometric.typing
from torch_geometric.data import Data
from torch_geometric.loader import NodeLoader
from torch_geometric.sampler import BaseSampler, NeighborSampler, NodeSamplerInput

from pyagc.sampling.neighbor_sampler import VectorizedNeighborSampler, _default_seed
from pyagc.utils.distributed import EpochShardSampler

_BACKENDS = ("auto", "pyg", "pyagc")


def pyg_sampler_available() -> bool:
    """Whether PyG's own neighbour sampler can run (needs ``pyg-lib`` or ``torch-sparse``)."""
    return bool(torch_geometric.typing.WITH_PYG_LIB or torch_geometric.typing.WITH_TORCH_SPARSE)


class NeighborLoader(NodeLoader):
    r"""Mini-batches of sampled neighbourhoods, as PyG's
    :class:`torch_geometric.loader.NeighborLoader`, on any installation.

    Uses PyG's ``NeighborSampler`` when ``pyg-lib`` or ``torch-sparse`` is importable and
    :class:`~pyagc.sampling.VectorizedNeighborSampler` (vectorised PyTorch) otherwise. Either
    way each batch is a :class:`~torch_geometric.data.Data` with ``n_id`` (seed nodes first),
    ``batch_size``, ``input_id``, local ``edge_index``, ``e_id``, ``num_sampled_nodes`` and
    ``num_sampled_edges`` per hop, and all node/edge attributes of ``data`` sliced.

    Args:
        data (Data): the graph.
        num_neighbors (List[int]): fan-out per hop (``-1`` = all neighbours); use as many
            hops as the encoder has message-passing layers.
        input_nodes (Tensor, optional): seed node ids or a boolean mask (default: all nodes).
        batch_size (int): seeds per batch.
        shuffle (bool): shuffle the seeds every epoch.
        replace (bool): sample with replacement.
        subgraph_type, disjoint, temporal_strategy, time_attr, weight_attr, is_sorted,
            transform, transform_sampler_output, filter_per_worker: as in PyG (the pyagc
            sampler supports the defaults only and says so otherwise).
        generator (torch.Generator, optional): randomness for the shuffling and the sampling.
        seed (int, optional): seeds both when ``generator`` is not given; with neither, the
            seed is drawn from torch's global RNG, so ``pyagc.utils.set_seed`` reproduces runs.
        backend (str): ``'auto'`` (default), ``'pyg'`` (require PyG's sampler) or ``'pyagc'``
            (always the vectorised PyTorch sampler).
        **kwargs: further :class:`torch.utils.data.DataLoader` arguments (``num_workers``,
            ``drop_last``, ...).

    Example::

        >>> loader = NeighborLoader(data, num_neighbors=[15, 10], batch_size=1024,
        ...                         shuffle=True, seed=0)
        >>> batch = next(iter(loader))
        >>> out = encoder(batch.x, batch.edge_index)[:batch.batch_size]

    Reproducibility: with ``seed`` (or ``generator``) the pyagc sampler gives the same batches
    on every run on CPU; PyG's pyg-lib sampler draws from its own RNG, so with
    ``backend='auto'`` and pyg-lib installed only the shuffling order is seeded.
    """

    def __init__(
        self,
        data: Data,
        num_neighbors: List[int],
        input_nodes=None,
        input_time=None,
        replace: bool = False,
        subgraph_type: str = "directional",
        disjoint: bool = False,
        temporal_strategy: str = "uniform",
        time_attr: Optional[str] = None,
        weight_attr: Optional[str] = None,
        transform: Optional[Callable] = None,
        transform_sampler_output: Optional[Callable] = None,
        is_sorted: bool = False,
        filter_per_worker: Optional[bool] = None,
        neighbor_sampler: Optional[BaseSampler] = None,
        generator: Optional[torch.Generator] = None,
        seed: Optional[int] = None,
        backend: str = "auto",
        **kwargs,
    ) -> None:
        if backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}.")
        if not isinstance(data, Data):
            raise TypeError("pyagc.sampling.NeighborLoader expects a torch_geometric Data "
                            f"object, got {type(data).__name__}.")
        batch_size = kwargs.get("batch_size", 1)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
        if generator is None:
            generator = torch.Generator()
            generator.manual_seed(_default_seed() if seed is None else int(seed))
        elif seed is not None:
            raise ValueError("Give either seed or generator, not both.")

        use_pyg = backend == "pyg" or (backend == "auto" and pyg_sampler_available())
        if backend == "pyg" and not pyg_sampler_available():
            raise ImportError("backend='pyg' needs pyg-lib or torch-sparse; use backend='auto' "
                              "to fall back to pyagc's vectorised sampler.")
        if neighbor_sampler is None:
            if use_pyg:
                neighbor_sampler = NeighborSampler(
                    data, num_neighbors=num_neighbors, replace=replace,
                    subgraph_type=subgraph_type, disjoint=disjoint,
                    temporal_strategy=temporal_strategy, time_attr=time_attr,
                    weight_attr=weight_attr, is_sorted=is_sorted,
                    share_memory=kwargs.get("num_workers", 0) > 0)
            else:
                if time_attr is not None or weight_attr is not None:
                    raise ValueError("time_attr / weight_attr sampling needs pyg-lib; pyagc's "
                                     "sampler draws neighbours uniformly.")
                if input_time is not None:
                    raise ValueError("input_time needs pyg-lib (temporal sampling).")
                # The sampler gets its own stream, derived from the loader's generator, so the
                # shuffling order does not depend on how many draws the sampler made.
                sampler_seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
                neighbor_sampler = VectorizedNeighborSampler(
                    data, num_neighbors=num_neighbors, replace=replace,
                    subgraph_type=subgraph_type, disjoint=disjoint, is_sorted=is_sorted,
                    seed=sampler_seed)
        self.num_neighbors = num_neighbors

        super().__init__(
            data=data,
            node_sampler=neighbor_sampler,
            input_nodes=input_nodes,
            input_time=input_time,
            transform=transform,
            transform_sampler_output=transform_sampler_output,
            filter_per_worker=filter_per_worker,
            generator=generator,
            **kwargs,
        )

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(sampler={self.node_sampler.__class__.__name__}, "
                f"num_neighbors={self.num_neighbors})")


class InverseSamplingWeights:
    r"""Batch transform: weight each sampled edge :math:`j \to i` by the inverse of its
    sampling rate, :math:`d_i / s_i`, with :math:`d_i` the in-degree of ``i`` in the whole
    graph and :math:`s_i` the number of its in-edges the batch sampled (an existing
    ``edge_weight`` is multiplied).

    Uniform neighbour sampling keeps :math:`s_i \le` fan-out of a node's :math:`d_i`
    in-edges, so a GCN layer normalising by the degrees it sees inside the batch treats a hub
    (Cora: 96 nodes above fan-out 10, up to degree 168) as a node of degree ``fan-out`` and
    sends its messages up to :math:`\sqrt{d_i / s_i}` (4x) too strongly to all its neighbours.
    With these weights a node whose in-edges were sampled has its whole-graph weighted degree
    :math:`1 + d_i` inside the batch, and :math:`\frac{d_i}{s_i}\sum_{j \in S_i}` is an
    unbiased estimate of the sum over all its neighbours. A node none of whose in-edges the
    batch holds (the outermost hop, whose in-edges are never sampled) would have degree 1 (its
    self-loop) and send its messages :math:`\sqrt{1 + d_j}` times too strongly; it gets one
    in-edge of weight :math:`d_j` appended (from the batch's first node; not a self-loop,
    which PyG's edge-list normalisation and a sparse adjacency treat differently), so every
    node of the batch is normalised by its whole-graph degree. Those edges change only the
    outermost hop's own rows, which no seed reads. Appended edges get ``e_id`` -1 and zero
    edge attributes and count in the last hop's ``num_sampled_edges`` (so per-hop trimming
    drops them with that hop). With every neighbour sampled all weights are 1 and, on a batch
    that holds every node's in-edges, nothing is appended.

    Args:
        data: the whole graph the loader samples from (its ``edge_index`` gives :math:`d_i`).
    """

    def __init__(self, data: Data) -> None:
        edge_index = getattr(data, "edge_index", None)
        if edge_index is None:
            raise ValueError("InverseSamplingWeights needs the graph's edge_index.")
        self.in_degree = torch.bincount(edge_index[1], minlength=int(data.num_nodes)).float()

    def __call__(self, batch: Data) -> Data:
        if getattr(batch, "n_id", None) is None:
            raise ValueError("InverseSamplingWeights needs batches with n_id (global node ids), "
                             "as pyagc.sampling.NeighborLoader gives.")
        edge_index = batch.edge_index
        dst = edge_index[1]
        sampled = torch.bincount(dst, minlength=int(batch.num_nodes))
        degree = self.in_degree[batch.n_id.to(self.in_degree.device)].to(dst.device)
        weight = (degree / sampled.clamp(min=1))[dst]
        old = getattr(batch, "edge_weight", None)
        weight = weight if old is None else old * weight.to(old.dtype)
        loops = ((sampled == 0) & (degree > 0)).nonzero().view(-1)
        if loops.numel():
            num_edges = edge_index.size(1)
            for key in list(batch.keys()):
                value = batch[key]
                if (key not in ("edge_index", "edge_weight") and isinstance(value, torch.Tensor)
                        and value.dim() > 0 and value.size(0) == num_edges
                        and batch.is_edge_attr(key)):
                    pad = value.new_full((loops.numel(),) + tuple(value.shape[1:]),
                                         -1 if key == "e_id" else 0)
                    batch[key] = torch.cat([value, pad])
            padding = torch.stack([torch.zeros_like(loops), loops])
            batch.edge_index = torch.cat([edge_index, padding], dim=1)
            weight = torch.cat([weight, degree[loops].to(weight.dtype)])
            hops = getattr(batch, "num_sampled_edges", None)
            if hops is not None and len(hops):
                hops = list(hops)
                hops[-1] = int(hops[-1]) + loops.numel()
                batch.num_sampled_edges = hops
        batch.edge_weight = weight
        return batch


class PairSeedLoader(NeighborLoader):
    """A :class:`NeighborLoader` whose batches grow from their roots: :meth:`expand` turns
    the roots into the seeds (roots first or not, as the subclass says) and ``[2, P]``
    positive pairs of seed rows; each batch is the neighbour batch of the seeds with
    ``pos_pairs`` and ``num_roots``. The subclass's own draws take the stream seeded by
    :attr:`stream_seed`, derived from ``generator`` / ``seed`` before the loader's."""

    def __init__(self, data: Data, num_neighbors: List[int],
                 generator: Optional[torch.Generator] = None, seed: Optional[int] = None,
                 **kwargs) -> None:
        if kwargs.get("num_workers", 0):
            raise ValueError(f"{type(self).__name__} draws its seeds in the main process: "
                             "leave num_workers at 0.")
        if generator is None:
            generator = torch.Generator()
            generator.manual_seed(_default_seed() if seed is None else int(seed))
        elif seed is not None:
            raise ValueError("Give either seed or generator, not both.")
        self.stream_seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
        super().__init__(data, num_neighbors=num_neighbors, generator=generator, **kwargs)

    def expand(self, roots: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(seeds, pos_pairs)`` of a batch of root node ids."""
        raise NotImplementedError

    def collate_fn(self, index):
        roots = self.input_data[index].node
        seeds, pos_pairs = self.expand(roots)
        out = self.node_sampler.sample_from_nodes(NodeSamplerInput(input_id=seeds, node=seeds))
        out.metadata = (*out.metadata, pos_pairs, int(roots.numel()))
        if self.filter_per_worker:
            out = self.filter_fn(out)
        return out

    def filter_fn(self, out):
        pos_pairs, num_roots = out.metadata[-2:]
        data = super().filter_fn(out)
        data.pos_pairs = pos_pairs
        data.num_roots = num_roots
        return data


class EdgePairNeighborLoader(PairSeedLoader):
    r"""Node batches joined by uniformly drawn edges, for edge-reconstruction losses (GAE).

    Each batch takes ``batch_size`` root nodes as :class:`NeighborLoader` does (an epoch runs
    over all nodes) and ``edges_per_batch`` edges drawn uniformly with replacement from all of
    ``data.edge_index``; the roots and the edges' endpoints are the seeds of one
    neighbour-sampled subgraph (the idea of PyG's ``LinkNeighborLoader``), so every pair a
    loss reads is a pair of seeds, embedded with its whole sampled neighbourhood, and the
    encoder can trim to the seeds. Each batch is the :class:`NeighborLoader` batch of those
    seeds (``batch.batch_size`` of them, the roots first) with

    * ``pos_pairs`` -- ``[2, edges_per_batch]`` rows of the drawn edges' (source, target);
    * ``num_roots`` -- the number of roots (rows ``0 .. num_roots - 1``): uniformly drawn
      nodes, e.g. for negative pairs.

    The edge draws have a stream of their own, derived from ``generator`` / ``seed``.
    """

    def __init__(self, data: Data, num_neighbors: List[int], edges_per_batch: int,
                 generator: Optional[torch.Generator] = None, seed: Optional[int] = None,
                 **kwargs) -> None:
        if isinstance(edges_per_batch, bool) or not isinstance(edges_per_batch, int) \
                or edges_per_batch < 1:
            raise ValueError(f"edges_per_batch must be a positive int, got {edges_per_batch!r}.")
        if data.edge_index is None or data.edge_index.size(1) == 0:
            raise ValueError("EdgePairNeighborLoader needs a graph with at least one edge.")
        super().__init__(data, num_neighbors, generator=generator, seed=seed, **kwargs)
        self.pair_edge_index = data.edge_index
        self.edges_per_batch = edges_per_batch
        self.edge_generator = torch.Generator().manual_seed(self.stream_seed)

    def expand(self, roots: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        drawn = torch.randint(0, self.pair_edge_index.size(1), (self.edges_per_batch,),
                              generator=self.edge_generator)
        ends = self.pair_edge_index[:, drawn]
        extra = torch.unique(ends)
        seeds = torch.cat([roots, extra[~torch.isin(extra, roots)]])
        order = torch.argsort(seeds)
        return seeds, order[torch.searchsorted(seeds[order], ends)]


def neighbor_loader(data: Data, num_hops: int, fan_out, batch_size: int, shuffle: bool,
                    seed: Optional[int] = None, *, inverse_sampling_weights: bool = False,
                    input_nodes: Optional[torch.Tensor] = None,
                    shard: Optional[Tuple[int, int]] = None,
                    edges_per_batch: Optional[int] = None) -> NeighborLoader:
    """A :class:`NeighborLoader` over all nodes of ``data`` (or ``input_nodes``) sampling
    ``num_hops`` hops.

    ``fan_out`` is one int for every hop (``-1``: all neighbours) or a list with one value per
    hop. ``inverse_sampling_weights=True`` gives every batch the edge weights of
    :class:`InverseSamplingWeights` (for GCN encoders, which normalise by the degrees they
    see). ``shard=(rank, world_size)`` (distributed training) makes each epoch iterate over
    rank ``rank``'s share of one permutation of the seeds shared by all ranks
    (:class:`pyagc.utils.distributed.EpochShardSampler`, seeded with ``seed``; the same
    number of batches on every rank); the neighbour sampling then draws from a stream of its
    own per rank. ``edges_per_batch`` makes it an :class:`EdgePairNeighborLoader` (each
    batch also holds the endpoints of that many uniformly drawn edges).
    """
    transform = InverseSamplingWeights(data) if inverse_sampling_weights else None
    kwargs = {}
    if shard is not None:
        rank, world = shard
        n = data.num_nodes if input_nodes is None else int(input_nodes.numel())
        base = _default_seed() if seed is None else int(seed)
        kwargs["sampler"] = EpochShardSampler(n, rank, world, seed=base)
        shuffle, seed = False, (base * 1_000_003 + 7919 * (rank + 1)) % 2 ** 62
    if edges_per_batch is not None:
        kwargs["edges_per_batch"] = edges_per_batch
    loader_cls = NeighborLoader if edges_per_batch is None else EdgePairNeighborLoader
    return loader_cls(data, num_neighbors=fan_out_per_hop(num_hops, fan_out),
                      input_nodes=input_nodes, batch_size=batch_size, shuffle=shuffle,
                      seed=seed, transform=transform, **kwargs)


def fan_out_per_hop(num_hops: int, fan_out) -> List[int]:
    """``num_neighbors`` for ``num_hops`` hops from one int (every hop) or a list (one value
    per hop, checked against ``num_hops``)."""
    if isinstance(fan_out, (list, tuple)):
        if len(fan_out) != num_hops:
            raise ValueError(f"fan_out lists one value per layer; got {len(fan_out)} values "
                             f"for {num_hops} layers.")
        return [int(v) for v in fan_out]
    return [int(fan_out)] * num_hops
