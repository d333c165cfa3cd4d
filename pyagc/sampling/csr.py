"""A compressed adjacency (CSR / CSC) built once per graph and shared by the samplers."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor


class CompressedGraph:
    r"""Edges of a graph grouped by one endpoint, in pointer/index form.

    With ``group_by='source'`` this is the CSR of the adjacency (``ptr`` over source nodes,
    ``index`` holds the targets: out-neighbours, used by random walks). With
    ``group_by='target'`` it is the CSC (``ptr`` over target nodes, ``index`` holds the sources:
    in-neighbours, the nodes whose messages reach a node, used by neighbour sampling).

    Within a group the neighbours are sorted by id (so edge existence is a binary search) when
    ``sort_neighbors=True``; otherwise they keep their order in ``edge_index`` (a stable sort
    on one key, cheaper).

    Args:
        edge_index (Tensor): ``[2, num_edges]`` long tensor, row 0 = source, row 1 = target.
        num_nodes (int, optional): number of nodes ``N`` (default: ``edge_index.max() + 1``).
        group_by (str): ``'source'`` (CSR) or ``'target'`` (CSC).
        sort_neighbors (bool): sort the neighbours of each node by id.
        keep_perm (bool): keep :attr:`perm` (8 bytes per edge); samplers that only follow
            edges (random walks) do not need it.

    Attributes:
        ptr (Tensor): ``[N + 1]``; the neighbours of node ``v`` are
            ``index[ptr[v]:ptr[v + 1]]``.
        index (Tensor): ``[num_edges]`` neighbour ids.
        perm (Tensor or None): ``[num_edges]``; position ``e`` of the compressed layout is
            edge ``perm[e]`` of ``edge_index`` (``None`` with ``keep_perm=False``).
        num_nodes (int): ``N``.
    """

    def __init__(self, edge_index: Tensor, num_nodes: Optional[int] = None,
                 group_by: str = "source", sort_neighbors: bool = False,
                 keep_perm: bool = True) -> None:
        if not isinstance(edge_index, Tensor) or edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError("edge_index must be a [2, num_edges] tensor; got "
                             f"{getattr(edge_index, 'shape', type(edge_index))}.")
        if edge_index.dtype not in (torch.long, torch.int, torch.int32):
            raise TypeError(f"edge_index must hold integers (torch.long); got {edge_index.dtype}.")
        if group_by not in ("source", "target"):
            raise ValueError(f"group_by must be 'source' or 'target', got {group_by!r}.")
        edge_index = edge_index.long()
        num_edges = edge_index.size(1)
        if num_nodes is None:
            num_nodes = int(edge_index.max()) + 1 if num_edges > 0 else 0
        num_nodes = int(num_nodes)
        if num_edges > 0:
            low, high = int(edge_index.min()), int(edge_index.max())
            if low < 0 or high >= num_nodes:
                raise ValueError(f"edge_index holds node ids in [{low}, {high}] but num_nodes is "
                                 f"{num_nodes}: pass the right num_nodes (ids must be in "
                                 "[0, num_nodes)).")
        group, other = (edge_index[0], edge_index[1]) if group_by == "source" else \
            (edge_index[1], edge_index[0])
        if sort_neighbors:
            # One sort on a combined key orders groups and, inside a group, neighbour ids.
            if num_nodes > 3_000_000_000:
                raise ValueError("sort_neighbors=True supports at most 3e9 nodes (int64 keys).")
            _, perm = torch.sort(group * num_nodes + other)
        else:
            _, perm = torch.sort(group, stable=True)
        counts = torch.bincount(group, minlength=num_nodes)
        ptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=edge_index.device)
        torch.cumsum(counts, dim=0, out=ptr[1:])
        self.ptr = ptr
        self.index = other[perm]
        self.perm = perm if keep_perm else None
        self.num_nodes = num_nodes
        self.group_by = group_by
        self.neighbors_sorted = sort_neighbors

    @property
    def num_edges(self) -> int:
        return self.index.numel()

    @property
    def device(self) -> torch.device:
        return self.ptr.device

    def degree(self, nodes: Optional[Tensor] = None) -> Tensor:
        """Number of neighbours of ``nodes`` (all nodes when ``None``)."""
        if nodes is None:
            return self.ptr[1:] - self.ptr[:-1]
        return self.ptr[nodes + 1] - self.ptr[nodes]

    def has_edge(self, u: Tensor, v: Tensor) -> Tensor:
        """Boolean tensor: is ``v`` in the neighbour list of ``u`` (elementwise)?"""
        return self.find(u, v)[0]

    def find(self, u: Tensor, v: Tensor) -> Tuple[Tensor, Tensor]:
        """Elementwise search of ``v`` in the sorted neighbour list of ``u``.

        Returns ``(found, pos)``: whether ``v`` is a neighbour of ``u`` and the first position
        ``pos`` in ``index`` with ``index[pos] >= v`` inside ``u``'s row (so ``index[pos] == v``
        where found). A binary search per pair restricted to the row, run for all pairs at
        once: ``ceil(log2(max degree + 1))`` vectorised steps (several times faster than one
        search over all edges). Needs ``sort_neighbors=True``.
        """
        if not self.neighbors_sorted:
            raise RuntimeError("find/has_edge need a CompressedGraph built with "
                               "sort_neighbors=True.")
        lo = torch.index_select(self.ptr, 0, u)
        end = torch.index_select(self.ptr, 0, u + 1)
        if self.num_edges == 0 or u.numel() == 0:
            return torch.zeros(u.shape, dtype=torch.bool, device=u.device), lo
        hi = end.clone()
        last = self.num_edges - 1
        for _ in range(int((hi - lo).max()).bit_length()):
            mid = (lo + hi) >> 1
            below = (torch.index_select(self.index, 0, mid.clamp(max=last)) < v) & (mid < hi)
            lo = torch.where(below, mid + 1, lo)
            hi = torch.where(below, hi, mid)
        found = (lo < end) & (torch.index_select(self.index, 0, lo.clamp(max=last)) == v)
        return found, lo

    @property
    def has_multi_edges(self) -> bool:
        """Whether some neighbour appears twice in one row (needs sorted neighbours)."""
        cached = getattr(self, "_multi", None)
        if cached is None:
            if not self.neighbors_sorted:
                raise RuntimeError("has_multi_edges needs sort_neighbors=True.")
            row_start = torch.zeros(self.num_edges, dtype=torch.bool, device=self.device)
            row_start[self.ptr[:-1][self.degree() > 0]] = True
            same = self.index[1:] == self.index[:-1]
            cached = bool((same & ~row_start[1:]).any()) if self.num_edges > 1 else False
            self._multi = cached
        return cached

    def to(self, device: torch.device) -> "CompressedGraph":
        out = CompressedGraph.__new__(CompressedGraph)
        out.ptr, out.index = self.ptr.to(device), self.index.to(device)
        out.perm = None if self.perm is None else self.perm.to(device)
        out.num_nodes, out.group_by = self.num_nodes, self.group_by
        out.neighbors_sorted = self.neighbors_sorted
        if hasattr(self, "_multi"):
            out._multi = self._multi
        return out

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_nodes={self.num_nodes}, "
                f"num_edges={self.num_edges}, group_by={self.group_by!r})")
