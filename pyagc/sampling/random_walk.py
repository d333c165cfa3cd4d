"""Vectorised uniform and node2vec-biased random walks in plain PyTorch."""
from __future__ import annotations

import math
import weakref
from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from pyagc.sampling.csr import CompressedGraph
from pyagc.utils.validation import check_scalar


def walk_graph(edge_index: Tensor, num_nodes: Optional[int] = None) -> CompressedGraph:
    """The out-neighbour structure :func:`random_walk` walks on; build it once per graph and
    pass it instead of ``edge_index`` when walking repeatedly (e.g. once per batch).

    Neighbour lists are sorted by id: node2vec walks need it for their edge-existence test,
    and it makes a seeded walk depend on the edge set only, not on the order of the edges.
    Walks never map back to edge ids, so the edge permutation is not kept (8 bytes per edge,
    1 GB on a Products-sized graph).
    """
    return CompressedGraph(edge_index, num_nodes, group_by="source", sort_neighbors=True,
                           keep_perm=False)


class _LastGraph:
    """The walk structure of the last ``edge_index`` tensor passed to :func:`random_walk`.

    Reused while the very same tensor (weak reference) with an unchanged version counter and
    the same ``num_nodes`` comes back, so a loop calling ``random_walk(edge_index, batch, ...)``
    builds the structure once; dropped as soon as that tensor is freed.
    """

    def __init__(self) -> None:
        self._ref: Optional[weakref.ReferenceType] = None
        self._key: tuple = ()
        self._graph: Optional[CompressedGraph] = None

    def get(self, edge_index: Tensor, num_nodes: Optional[int]) -> CompressedGraph:
        key = (edge_index._version, num_nodes)
        if self._ref is not None and self._ref() is edge_index and self._key == key:
            return self._graph
        graph = walk_graph(edge_index, num_nodes)
        self._ref = weakref.ref(edge_index, self._clear)
        self._key, self._graph = key, graph
        return graph

    def _clear(self, _ref=None) -> None:
        self._ref, self._key, self._graph = None, (), None


_LAST_GRAPH = _LastGraph()


def _check_positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value}.")
    return value


def random_walk(
    edge_index: Union[Tensor, CompressedGraph],
    start: Tensor,
    walk_length: int,
    p: float = 1.0,
    q: float = 1.0,
    num_nodes: Optional[int] = None,
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    r"""Random walks from every node of ``start``, all advanced together one step at a time.

    With ``p = q = 1`` each step moves to a uniformly drawn out-neighbour. Otherwise the walk
    is the second-order walk of "node2vec: Scalable Feature Learning for Networks" (Grover &
    Leskovec, KDD 2016): having arrived at :math:`v` from :math:`t`, the next node
    :math:`x \in \mathcal{N}(v)` has unnormalised probability

    .. math::
        \alpha_{pq}(t, x) = \begin{cases} 1/p & x = t \\ 1 & (t, x) \in E \\
        1/q & \text{otherwise,} \end{cases}

    drawn exactly by rejection sampling (no per-node transition tables): propose a neighbour
    under an envelope of height :math:`\max(1, 1/q)` per neighbour, with the return move
    :math:`x = t` folded out to height :math:`\max(1, 1/q, 1/p)`, accept with probability
    :math:`\alpha_{pq}(t, x)` / envelope, retry the rejected walks only. The first step,
    which has no :math:`t`, is uniform. A walk at a node without out-edges stays there.

    Args:
        edge_index (Tensor or CompressedGraph): ``[2, num_edges]`` (row 0 = source), or the
            structure from :func:`walk_graph`. For a tensor, the structure of the last
            tensor seen is kept (same object, unmodified) so repeated calls build it once;
            pass a :func:`walk_graph` to control this explicitly.
        start (Tensor): ``[num_walks]`` start node ids.
        walk_length (int): number of steps.
        p (float): return parameter (small ``p``: walks come back more often).
        q (float): in-out parameter (small ``q``: walks move outward, DFS-like).
        num_nodes (int, optional): number of nodes (default ``edge_index.max() + 1``).
        generator (torch.Generator, optional): source of randomness.

    Returns:
        LongTensor ``[num_walks, walk_length + 1]``; column 0 is ``start``.
    """
    if isinstance(walk_length, bool) or not isinstance(walk_length, int) or walk_length < 0:
        raise ValueError(f"walk_length must be an int >= 0, got {walk_length!r}.")
    p, q = _check_positive("p", p), _check_positive("q", q)
    biased = p != 1.0 or q != 1.0
    if isinstance(edge_index, CompressedGraph):
        graph = edge_index
        if graph.group_by != "source":
            raise ValueError("random_walk needs a CompressedGraph grouped by source: build it "
                             "with pyagc.sampling.walk_graph(edge_index).")
        if num_nodes is not None and int(num_nodes) != graph.num_nodes:
            raise ValueError(f"num_nodes={num_nodes} disagrees with the given graph "
                             f"({graph.num_nodes} nodes).")
        if biased and not graph.neighbors_sorted:
            raise ValueError("node2vec walks (p or q != 1) need sorted neighbour lists: build "
                             "the graph with walk_graph(edge_index).")
    else:
        graph = _LAST_GRAPH.get(edge_index, num_nodes)
    if not isinstance(start, Tensor) or start.dim() != 1:
        raise ValueError("start must be a 1-D tensor of node ids.")
    if start.dtype.is_floating_point or start.dtype == torch.bool:
        raise TypeError(f"start must hold integer node ids, got {start.dtype}.")
    device = graph.device
    start = start.to(device=device, dtype=torch.long)
    if start.numel() > 0 and (int(start.min()) < 0 or int(start.max()) >= graph.num_nodes):
        raise ValueError(f"start node ids must lie in [0, {graph.num_nodes}).")

    walks = torch.empty((start.numel(), walk_length + 1), dtype=torch.long, device=device)
    walks[:, 0] = start
    cur, prev = start, start
    for step in range(walk_length):
        if biased and step > 0:
            nxt = _biased_step(graph, prev, cur, p, q, generator)
        else:
            nxt = _uniform_step(graph, cur, generator)
        walks[:, step + 1] = nxt
        prev, cur = cur, nxt
    return walks


def _uniform_step(graph: CompressedGraph, cur: Tensor,
                  generator: Optional[torch.Generator]) -> Tensor:
    row_start = torch.index_select(graph.ptr, 0, cur)
    deg = torch.index_select(graph.ptr, 0, cur + 1) - row_start
    if graph.num_edges == 0:
        return cur.clone()
    offset = (torch.rand(cur.shape, generator=generator, device=cur.device,
                         dtype=torch.float64) * deg).long()
    offset = torch.minimum(offset, (deg - 1).clamp_(min=0))
    pos = (row_start + offset).clamp_(max=graph.num_edges - 1)
    return torch.where(deg > 0, torch.index_select(graph.index, 0, pos), cur)


def _biased_step(graph: CompressedGraph, prev: Tensor, cur: Tensor, p: float, q: float,
                 generator: Optional[torch.Generator]) -> Tensor:
    """One node2vec step for every walk, by rejection sampling under an envelope.

    Envelope: height ``h = max(1, 1/q)`` on every neighbour of ``cur`` except ``prev``, and
    ``max(h, 1/p)`` on ``prev`` itself (folding the return edge out, so a small ``p`` does not
    lower the acceptance rate of all other moves). A point drawn uniformly under the envelope
    picks a slot; it is accepted with probability weight / envelope height. Graphs with
    repeated edges use the flat envelope ``max(1/p, 1, 1/q)``.
    """
    nxt = cur.clone()
    row_start = torch.index_select(graph.ptr, 0, cur)
    deg = torch.index_select(graph.ptr, 0, cur + 1) - row_start
    active = torch.nonzero(deg > 0).view(-1)
    if active.numel() == 0:
        return nxt
    cur_a, prev_a = cur[active], prev[active]
    start_a, deg_a = row_start[active], deg[active]
    h = max(1.0, 1.0 / q)
    if graph.has_multi_edges:
        has_ret = torch.zeros(active.numel(), dtype=torch.bool, device=cur.device)
        ret_pos = start_a
        h = max(h, 1.0 / p)
    else:
        has_ret, ret_pos = graph.find(cur_a, prev_a)
    h_ret = max(h, 1.0 / p)
    last = max(graph.num_edges - 1, 0)

    pending = torch.arange(active.numel(), device=cur.device)
    while pending.numel() > 0:
        ret = has_ret[pending]
        back = prev_a[pending]
        n_other = deg_a[pending] - ret.long()
        ret_mass = ret.to(torch.float64) * h_ret
        draw = torch.rand(pending.shape, generator=generator, device=cur.device,
                          dtype=torch.float64) * (n_other * h + ret_mass)
        to_ret = ret & (draw < h_ret)
        slot = ((draw - ret_mass) / h).long().clamp_(min=0)
        slot = torch.minimum(slot, (n_other - 1).clamp_(min=0))
        pos = start_a[pending] + slot
        pos = pos + (ret & (pos >= ret_pos[pending])).long()  # step over the return slot
        proposal = torch.where(to_ret, back,
                               torch.index_select(graph.index, 0, pos.clamp_(max=last)))
        # Acceptance probability: weight / envelope height.
        accept_p = torch.full(pending.shape, 1.0 / q / h, dtype=torch.float64,
                              device=cur.device)
        moved = torch.nonzero(~to_ret).view(-1)
        near = graph.has_edge(back[moved], proposal[moved])
        accept_p[moved[near]] = 1.0 / h
        accept_p[moved[proposal[moved] == back[moved]]] = (1.0 / p) / h  # repeated edges only
        accept_p[to_ret] = (1.0 / p) / h_ret
        accept = torch.rand(pending.shape, generator=generator, device=cur.device,
                            dtype=torch.float64) < accept_p
        nxt[active[pending[accept]]] = proposal[accept]
        pending = pending[~accept]
    return nxt


def check_walk_settings(walk_length: int, context_size: int, walks_per_node: int,
                        num_negative_samples: int, p: float, q: float) -> Tuple[int, ...]:
    """Check the settings of a walk-trained model (Node2Vec, S3GC) and return them, ``p`` and
    ``q`` as floats: ``walk_length >= 1``, ``2 <= context_size <= walk_length + 1`` (a window
    of :func:`walk_windows` lies within one walk), ``walks_per_node >= 1``,
    ``num_negative_samples >= 1``, ``p, q > 0``."""
    check_scalar(walk_length, "walk_length", int, min_val=1)
    check_scalar(context_size, "context_size", int, min_val=2)
    if context_size > walk_length + 1:
        raise ValueError(f"context_size ({context_size}) must be at most walk_length + 1 "
                         f"({walk_length + 1}): a window cannot be longer than a walk.")
    check_scalar(walks_per_node, "walks_per_node", int, min_val=1)
    check_scalar(num_negative_samples, "num_negative_samples", int, min_val=1)
    for name, value in (("p", p), ("q", q)):
        check_scalar(value, name, (int, float), min_val=0, include_boundaries="neither")
    return walk_length, context_size, walks_per_node, num_negative_samples, float(p), float(q)


def walk_windows(walks: Tensor, context_size: int) -> Tensor:
    r"""All length-``context_size`` windows of each walk, as Node2Vec's positive samples.

    Row ``r`` of the output is ``walks[w, j : j + context_size]``: its first entry is the
    start node, the others its context. With walks ``[num_walks, L + 1]`` there are
    ``L + 2 - context_size`` windows per walk.

    Returns:
        LongTensor ``[num_walks * (L + 2 - context_size), context_size]``, windows of the same
        walk adjacent, in order of their offset ``j``.
    """
    if not isinstance(walks, Tensor) or walks.dim() != 2:
        raise ValueError("walks must be a [num_walks, walk_length + 1] tensor.")
    if isinstance(context_size, bool) or not isinstance(context_size, int) or \
            not 2 <= context_size <= walks.size(1):
        raise ValueError(f"context_size must be an int in [2, walk_length + 1 = {walks.size(1)}]"
                         f", got {context_size!r}.")
    return walks.unfold(1, context_size, 1).reshape(-1, context_size)
