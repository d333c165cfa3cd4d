"""Internal clustering metrics computed from the graph alone, in O(E + N) time and memory."""
from __future__ import annotations

from typing import Dict, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from pyagc.utils import distributed as dist_utils
from pyagc.utils.validation import check_edge_index

_ALIASES = {"mod": "Mod", "modularity": "Mod", "cond": "Cond", "conductance": "Cond"}


def _cluster_stats(edge_index, clusters, distributed: bool = False
                   ) -> Tuple[Tensor, Tensor, Tensor, float]:
    """Per-cluster volume, internal entries and cut entries, and the total volume 2m; with
    ``distributed`` the counts of every rank's share of the edges summed."""
    if not isinstance(clusters, Tensor):
        clusters = torch.as_tensor(np.asarray(clusters))
    clusters = clusters.detach().cpu().view(-1).long()
    if not isinstance(edge_index, Tensor):
        edge_index = torch.as_tensor(np.asarray(edge_index))
    edge_index = check_edge_index(edge_index.detach().cpu(), clusters.numel())
    if clusters.numel() and int(clusters.min()) < 0:
        raise ValueError("clusters must hold non-negative cluster ids.")
    # Relabel to 0..k-1 so memory is O(k) with k the number of non-empty clusters.
    _, clusters = torch.unique(clusters, return_inverse=True)
    k = int(clusters.max()) + 1 if clusters.numel() else 0
    src, dst = clusters[edge_index[0]], clusters[edge_index[1]]
    volume = torch.bincount(src, minlength=k).double()
    internal = torch.bincount(src[src == dst], minlength=k).double()
    total = float(edge_index.size(1))
    if distributed:
        volume, internal, total = _sum_over_ranks(clusters, volume, internal, total)
    cut = volume - internal
    return volume, internal, cut, total


def _sum_over_ranks(clusters: Tensor, volume: Tensor, internal: Tensor, total: float
                    ) -> Tuple[Tensor, Tensor, float]:
    """Every rank's per-cluster counts summed; the ranks must hold the same ``clusters``."""
    if not dist_utils.is_distributed():
        raise dist_utils.DistributedError(
            "distributed=True needs a torch.distributed process group (start with torchrun); "
            "use distributed=False in a single process.")
    # The same partition on every rank, else the per-cluster counts do not line up.
    stamp = torch.tensor([clusters.numel(), volume.numel(),
                          int((clusters * torch.arange(1, clusters.numel() + 1)).sum())])
    if not torch.equal(dist_utils.all_reduce(stamp, op="min", what="structure metrics"),
                       dist_utils.all_reduce(stamp, op="max", what="structure metrics")):
        raise dist_utils.DistributedError(
            "distributed structure metrics need the same cluster labels of all nodes on every "
            "rank (gather them first); only the edges are split between the ranks.")
    sums = dist_utils.all_reduce(torch.cat([volume, internal, torch.tensor([total])]),
                                 what="structure metrics")
    k = volume.numel()
    return sums[:k], sums[k:2 * k], float(sums[-1])


def _modularity(volume: Tensor, internal: Tensor, cut: Tensor, total: float) -> float:
    if total == 0:
        return 0.0
    return float((internal / total - (volume / total) ** 2).sum())


def _conductance(volume: Tensor, internal: Tensor, cut: Tensor, total: float) -> float:
    if volume.numel() == 0:
        return 0.0
    denom = torch.minimum(volume, total - volume)
    phi = torch.where(denom > 0, cut / denom.clamp(min=1e-300), torch.zeros_like(cut))
    return float(phi.mean())


def modularity(edge_index: Tensor, clusters: Tensor, vectorized: bool = True,
               distributed: bool = False) -> float:
    r"""Newman's modularity of a partition.

    .. math::
        Q = \sum_c \Big[\frac{L_c}{2m} - \Big(\frac{d_c}{2m}\Big)^2\Big]

    where ``edge_index`` is read as the adjacency matrix (one entry per column, so an
    undirected graph stores both directions and :math:`2m` is the number of columns),
    :math:`L_c` counts entries with both ends in cluster :math:`c` and :math:`d_c` is the summed
    degree of its nodes. Equals networkx's ``modularity`` on the undirected simple graph.
    O(E + N); ``vectorized`` is accepted for compatibility and has no effect.
    Returns 0.0 for a graph without edges.

    With ``distributed=True`` (inside a ``torch.distributed`` process group) each rank passes
    its share of the edges (the shares together making up the graph, e.g. the edges of its
    block of source nodes) and the labels of all nodes; the per-cluster counts are summed over
    the ranks, so every rank gets the value of the whole graph.
    """
    return _modularity(*_cluster_stats(edge_index, clusters, distributed))


def conductance(edge_index: Tensor, clusters: Tensor, vectorized: bool = True,
                distributed: bool = False) -> float:
    r"""Mean conductance over the non-empty clusters of a partition (lower is better).

    .. math::
        \phi(c) = \frac{\mathrm{cut}(c)}{\min(\mathrm{vol}(c),\; 2m - \mathrm{vol}(c))},
        \qquad \mathrm{Cond} = \frac{1}{k} \sum_c \phi(c)

    with ``cut(c)`` the adjacency entries leaving ``c``, ``vol(c)`` the summed degree of its
    nodes and :math:`2m` the total volume (columns of ``edge_index``). A cluster whose
    denominator is zero (only isolated nodes, or every edge inside it) has :math:`\phi = 0`.
    O(E + N). ``distributed``: as in :func:`modularity`.
    """
    return _conductance(*_cluster_stats(edge_index, clusters, distributed))


def structure_metrics(edge_index: Tensor, clusters: Tensor,
                      metrics: Union[str, Tuple[str, ...]] = ("Mod", "Cond"),
                      vectorized: bool = True, distributed: bool = False) -> Dict[str, float]:
    """Modularity (``'Mod'``/``'Modularity'``) and conductance (``'Cond'``/``'Conductance'``).

    Returns ``{canonical name: value}`` (canonical names ``'Mod'`` and ``'Cond'``); see
    :func:`modularity` and :func:`conductance` for the definitions and ``distributed``.
    """
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    functions = {"Mod": _modularity, "Cond": _conductance}
    stats = _cluster_stats(edge_index, clusters, distributed)
    result = {}
    for name in names:
        key = _ALIASES.get(str(name).lower())
        if key is None:
            raise ValueError(f"Unknown structure metric {name!r}; choose 'Mod'/'Modularity' or "
                             "'Cond'/'Conductance'.")
        result[key] = functions[key](*stats)
    return result
