"""Vectorised neighbour sampling in plain PyTorch (no pyg-lib / torch-sparse needed)."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.sampler import (
    BaseSampler,
    EdgeSamplerInput,
    NodeSamplerInput,
    SamplerOutput,
)
from torch_geometric.sampler.base import NumNeighbors

from pyagc.sampling.csr import CompressedGraph

# Marker written into the node map to find first occurrences; far below any local id and -1.
_FIRST_SEEN = -(1 << 62)


def _check_num_neighbors(num_neighbors) -> List[int]:
    if isinstance(num_neighbors, NumNeighbors):
        num_neighbors = num_neighbors.values
    if isinstance(num_neighbors, dict):
        raise TypeError("pyagc's neighbour sampler handles homogeneous graphs only: give "
                        "num_neighbors as a list of ints (one per hop), e.g. [15, 10].")
    if not isinstance(num_neighbors, (list, tuple)) or len(num_neighbors) == 0:
        raise TypeError("num_neighbors must be a non-empty list of ints (one per hop, -1 = all "
                        f"neighbours), got {num_neighbors!r}.")
    out = []
    for k in num_neighbors:
        if isinstance(k, bool) or not isinstance(k, int) or k < -1:
            raise ValueError("num_neighbors entries must be ints >= 0 or -1 (all neighbours), "
                             f"got {num_neighbors!r}.")
        out.append(int(k))
    return out


def _default_seed() -> int:
    # Drawn from torch's global RNG so that `torch.manual_seed` / `set_seed` reproduce it.
    return int(torch.randint(0, 2**62, (1,)).item())


class VectorizedNeighborSampler(BaseSampler):
    r"""GraphSAGE-style neighbour sampling written in vectorised PyTorch.

    From "Inductive Representation Learning on Large Graphs" (Hamilton et al., NeurIPS 2017):
    starting from the seed nodes, hop :math:`\ell` samples for every node reached at hop
    :math:`\ell - 1` at most :math:`k_\ell` of its in-neighbours (the sources :math:`j` of
    edges :math:`j \to i`, i.e. the nodes whose messages reach :math:`i`), uniformly without
    replacement (``k = -1``: all of them). The output follows PyG's ``NeighborSampler``
    contract, so :class:`torch_geometric.loader.NodeLoader` turns it into mini-batches shaped
    like ``NeighborLoader``'s: the seeds are the first ``batch_size`` entries of ``n_id``,
    nodes are grouped by hop (``num_sampled_nodes``), edges by hop (``num_sampled_edges``),
    and ``edge_index`` holds local ids with row 0 = neighbour (source), row 1 = target.

    Work per hop is a handful of tensor operations over the frontier (no Python loop over
    nodes). A node subset of size :math:`k` out of :math:`d > k` neighbours is drawn with
    Floyd's algorithm, :math:`k` vectorised steps whose cost does not depend on :math:`d`
    (hubs are cheap). The compressed in-neighbour structure (CSC) is built once, here.

    Args:
        data (Data): the graph (``edge_index``, ``num_nodes``).
        num_neighbors (List[int]): fan-out per hop; ``-1`` takes all neighbours.
        replace (bool): sample with replacement (default ``False``).
        subgraph_type (str): only ``'directional'`` (PyG's default) is supported.
        disjoint (bool): not supported (must be ``False``).
        is_sorted (bool): ``edge_index`` is already sorted by target, skip the sort.
        generator (torch.Generator, optional): source of randomness.
        seed (int, optional): seeds a private generator when ``generator`` is not given. With
            neither, a seed is drawn from torch's global RNG at construction.

    In DataLoader worker processes the generator is re-seeded from the worker's seed (which
    PyTorch derives from the loader's own generator), so workers draw different samples and
    a seeded loader stays reproducible.
    """

    def __init__(
        self,
        data: Data,
        num_neighbors: Union[Sequence[int], NumNeighbors],
        replace: bool = False,
        subgraph_type: str = "directional",
        disjoint: bool = False,
        is_sorted: bool = False,
        generator: Optional[torch.Generator] = None,
        seed: Optional[int] = None,
    ) -> None:
        if not isinstance(data, Data):
            raise TypeError("VectorizedNeighborSampler supports homogeneous torch_geometric "
                            f"Data objects only, got {type(data).__name__}. For HeteroData or "
                            "remote stores install pyg-lib and use PyG's NeighborLoader.")
        if str(getattr(subgraph_type, "value", subgraph_type)) != "directional":
            raise ValueError(f"subgraph_type={subgraph_type!r} is not supported by pyagc's "
                             "sampler: use 'directional' (or install pyg-lib).")
        if disjoint:
            raise ValueError("disjoint=True is not supported by pyagc's sampler (install "
                             "pyg-lib for disjoint sampling).")
        if data.edge_index is None:
            raise ValueError("data has no edge_index: the neighbour sampler needs the graph.")
        self.num_neighbors = _check_num_neighbors(num_neighbors)
        self.replace = bool(replace)
        self.num_nodes = int(data.num_nodes)
        if is_sorted:
            # Trust the caller: the edges are grouped by target already.
            self.csc = _csc_from_sorted(data.edge_index, self.num_nodes)
        else:
            self.csc = CompressedGraph(data.edge_index, self.num_nodes, group_by="target")
        self._perm: Optional[Tensor] = None if is_sorted else self.csc.perm
        if generator is None:
            generator = torch.Generator(device=self.csc.device)
            generator.manual_seed(_default_seed() if seed is None else int(seed))
        self.generator = generator
        self._worker_seeded: Optional[int] = None
        # Global -> local id map, -1 = not in the batch; reset after each batch (O(batch)).
        self._node_map = torch.full((self.num_nodes,), -1, dtype=torch.long,
                                    device=self.csc.device)

    @property
    def edge_permutation(self) -> Optional[Tensor]:
        # Sampled edge ids are already ids of ``data.edge_index``.
        return None

    def sample_from_nodes(self, index: NodeSamplerInput, **kwargs) -> SamplerOutput:
        if index.input_type is not None:
            raise TypeError("pyagc's neighbour sampler handles homogeneous graphs only.")
        if index.time is not None:
            raise ValueError("Temporal sampling is not supported by pyagc's sampler.")
        out = self.sample(index.node)
        out.metadata = (index.input_id, index.time)
        return out

    def sample_from_edges(self, index: EdgeSamplerInput, neg_sampling=None) -> SamplerOutput:
        raise NotImplementedError("pyagc's sampler samples from seed nodes only; for link-level "
                                  "loaders install pyg-lib and use LinkNeighborLoader.")

    # ------------------------------------------------------------------------------------
    def _maybe_reseed_worker(self) -> None:
        info = torch.utils.data.get_worker_info()
        if info is not None and self._worker_seeded != info.seed:
            self.generator = torch.Generator(device=self.csc.device)
            self.generator.manual_seed(info.seed)
            self._worker_seeded = info.seed

    def sample(self, seed: Tensor) -> SamplerOutput:
        """Samples the multi-hop neighbourhood of the global node ids ``seed``."""
        self._maybe_reseed_worker()
        device = self.csc.device
        seed = seed.to(device=device, dtype=torch.long)
        node_map = self._node_map
        num_seeds = seed.numel()
        if num_seeds > 0 and (int(seed.min()) < 0 or int(seed.max()) >= self.num_nodes):
            raise ValueError(f"seed node ids must lie in [0, {self.num_nodes}).")

        local = torch.arange(num_seeds, device=device)
        node_map.index_copy_(0, seed, local)
        if not torch.equal(torch.index_select(node_map, 0, seed), local):
            node_map.index_fill_(0, seed, -1)
            raise ValueError("The seed nodes of a batch contain duplicates; give unique "
                             "input_nodes.")

        nodes: List[Tensor] = [seed]
        rows: List[Tensor] = []
        cols: List[Tensor] = []
        edges: List[Tensor] = []
        num_sampled_nodes = [num_seeds]
        num_sampled_edges: List[int] = []
        frontier, frontier_local = seed, local
        num_total = num_seeds
        try:
            for k in self.num_neighbors:
                if frontier.numel() == 0 or k == 0:
                    num_sampled_nodes.append(0)
                    num_sampled_edges.append(0)
                    frontier = frontier[:0]
                    continue
                pos, target_local = self._sample_hop(frontier, frontier_local, k)
                # index_select / index_copy_ instead of advanced indexing: several times
                # faster for these 1-D gathers and scatters.
                src = torch.index_select(self.csc.index, 0, pos)
                src_local = torch.index_select(node_map, 0, src)
                new_nodes = self._first_occurrences(src[src_local < 0])
                new_local = torch.arange(num_total, num_total + new_nodes.numel(), device=device)
                node_map.index_copy_(0, new_nodes, new_local)
                src_local = torch.index_select(node_map, 0, src)
                num_total += new_nodes.numel()

                nodes.append(new_nodes)
                rows.append(src_local)
                cols.append(target_local)
                # Report ids of the original edge_index (the loader then needs no permutation).
                edges.append(pos if self._perm is None else torch.index_select(self._perm, 0, pos))
                num_sampled_nodes.append(new_nodes.numel())
                num_sampled_edges.append(pos.numel())
                frontier, frontier_local = new_nodes, new_local
        finally:
            all_nodes = torch.cat(nodes)
            node_map.index_fill_(0, all_nodes, -1)

        empty = torch.empty(0, dtype=torch.long, device=device)
        return SamplerOutput(
            node=all_nodes,
            row=torch.cat(rows) if rows else empty,
            col=torch.cat(cols) if cols else empty,
            edge=torch.cat(edges) if edges else empty,
            batch=None,
            num_sampled_nodes=num_sampled_nodes,
            num_sampled_edges=num_sampled_edges,
        )

    def _first_occurrences(self, candidates: Tensor) -> Tensor:
        """Distinct ids of ``candidates`` (all currently -1 in the node map), in order of
        first occurrence; O(len) through the node map instead of a sort."""
        if candidates.numel() == 0:
            return candidates
        node_map = self._node_map
        order = torch.arange(candidates.numel(), device=candidates.device)
        node_map.scatter_reduce_(0, candidates, order + _FIRST_SEEN, reduce="amin")
        first = torch.index_select(node_map, 0, candidates) == order + _FIRST_SEEN
        node_map.index_fill_(0, candidates, -1)
        return candidates[first]

    def _sample_hop(self, frontier: Tensor, frontier_local: Tensor,
                    k: int) -> Tuple[Tensor, Tensor]:
        """CSC positions of the sampled in-edges of ``frontier`` and their target local ids,
        grouped by frontier node."""
        start = torch.index_select(self.csc.ptr, 0, frontier)
        deg = torch.index_select(self.csc.ptr, 0, frontier + 1) - start
        device = frontier.device
        if k < 0:
            count = deg
        elif self.replace:
            count = torch.where(deg > 0, torch.full_like(deg, k), deg)
        else:
            count = deg.clamp(max=k)
        total = int(count.sum())
        group_start = torch.cumsum(count, 0) - count
        target_local = torch.repeat_interleave(frontier_local, count, output_size=total)
        base = torch.repeat_interleave(start - group_start, count, output_size=total)
        pos = base + torch.arange(total, device=device)  # all neighbours, in CSC order
        if k < 0:
            return pos, target_local

        if self.replace:
            sampled = torch.nonzero(deg > 0).view(-1)
            if sampled.numel() > 0:
                d = deg[sampled].unsqueeze(1)
                draws = (torch.rand((sampled.numel(), k), generator=self.generator,
                                    device=device, dtype=torch.float64) * d)
                draws = draws.long().clamp_(max=d - 1)
                out_idx = group_start[sampled].unsqueeze(1) + torch.arange(k, device=device)
                pos.index_copy_(0, out_idx.view(-1), (start[sampled].unsqueeze(1) + draws).view(-1))
            return pos, target_local

        partial = torch.nonzero(deg > k).view(-1)
        if partial.numel() > 0:
            chosen = self._floyd(deg[partial], k)
            out_idx = group_start[partial].unsqueeze(1) + torch.arange(k, device=device)
            pos.index_copy_(0, out_idx.view(-1), (start[partial].unsqueeze(1) + chosen).view(-1))
        return pos, target_local

    def _floyd(self, deg: Tensor, k: int) -> Tensor:
        """Uniform ``k``-subsets of ``range(deg[i])``, one per row of the ``[m, k]`` output
        (all ``deg > k``).

        Floyd's algorithm: for ``j = d-k, ..., d-1`` draw ``t`` uniform in ``[0, j]`` and take
        ``t`` unless already taken, else ``j``; every ``k``-subset is equally likely.
        """
        m = deg.numel()
        out = torch.empty((m, k), dtype=torch.long, device=deg.device)
        # float64 draws keep every index reachable even for degrees above 2**24.
        rand = torch.rand((m, k), generator=self.generator, device=deg.device,
                          dtype=torch.float64)
        for j in range(k):
            upper = deg - k + j  # inclusive bound of this step
            t = torch.minimum((rand[:, j] * (upper + 1)).long(), upper)
            if j > 0:
                taken = (out[:, :j] == t.unsqueeze(1)).any(dim=1)
                t = torch.where(taken, upper, t)
            out[:, j] = t
        return out

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_neighbors={self.num_neighbors}, "
                f"replace={self.replace}, num_nodes={self.num_nodes})")


def _csc_from_sorted(edge_index: Tensor, num_nodes: int) -> CompressedGraph:
    target = edge_index[1].long()
    if target.numel() > 1 and bool((target[1:] < target[:-1]).any()):
        raise ValueError("is_sorted=True but edge_index is not sorted by target (row 1); "
                         "pass is_sorted=False.")
    out = CompressedGraph.__new__(CompressedGraph)
    counts = torch.bincount(target, minlength=num_nodes)
    out.ptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=edge_index.device)
    torch.cumsum(counts, 0, out=out.ptr[1:])
    out.index = edge_index[0].long()
    out.perm = torch.arange(target.numel(), device=edge_index.device)
    out.num_nodes, out.group_by, out.neighbors_sorted = num_nodes, "target", False
    return out
