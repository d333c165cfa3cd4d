"""Normalised adjacency matrices as ``torch.sparse_csr`` tensors (built once, reused per hop)."""
from __future__ import annotations

import math
import warnings
from typing import Optional, Tuple, Union

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from pyagc.ops.degree import degree
from pyagc.ops.propagate import ColumnSlabs, slab_count
from pyagc.ops.sparse import csr_tensor
from pyagc.utils.cache import TensorCache
from pyagc.utils.validation import check_edge_index


def _edge_weight_array(edge_weight: Optional[Tensor], num_edges: int) -> np.ndarray:
    if edge_weight is None:
        return np.ones(num_edges, dtype=np.float64)
    if not isinstance(edge_weight, Tensor):
        raise TypeError(f"edge_weight must be a torch.Tensor of shape [num_edges], "
                        f"got {type(edge_weight).__name__}.")
    if edge_weight.dim() != 1 or edge_weight.numel() != num_edges:
        raise ValueError(f"edge_weight must have one value per edge ({num_edges}), got shape "
                         f"{list(edge_weight.shape)}.")
    w = edge_weight.detach().cpu().double()
    if not torch.isfinite(w).all():
        raise ValueError("edge_weight contains NaN or infinite values.")
    if (w < 0).any():
        raise ValueError("edge_weight contains negative values; degree normalisation needs "
                         "non-negative weights.")
    return w.numpy()


def adjacency_csr(edge_index: Tensor, num_nodes: Optional[int] = None,
                  edge_weight: Optional[Tensor] = None,
                  add_self_loops: bool = True) -> sp.csr_matrix:
    r"""The propagation matrix :math:`\mathbf{M}` as a SciPy CSR matrix (float64).

    :math:`M_{ij}` is the weight of edge :math:`j \to i` (PyG's ``source_to_target`` flow:
    row ``edge_index[1]``, column ``edge_index[0]``), duplicates summed. With
    ``add_self_loops`` every node without a self-loop gets one of weight 1; existing
    self-loops keep their weight (PyG's ``add_remaining_self_loops``).
    """
    edge_index = check_edge_index(edge_index, num_nodes)
    if num_nodes is None:
        num_nodes = int(edge_index.max()) + 1 if edge_index.numel() else 0
    num_nodes = int(num_nodes)
    if num_nodes <= 0:
        raise ValueError("The graph has no nodes; give num_nodes > 0.")
    src = edge_index[0].cpu().numpy()
    dst = edge_index[1].cpu().numpy()
    w = _edge_weight_array(edge_weight, src.shape[0])
    if add_self_loops:
        has_loop = np.zeros(num_nodes, dtype=bool)
        has_loop[src[src == dst]] = True
        missing = np.flatnonzero(~has_loop)
        src = np.concatenate([src, missing])
        dst = np.concatenate([dst, missing])
        w = np.concatenate([w, np.ones(missing.shape[0])])
    # SciPy's COO -> CSR conversion is a linear counting sort that also sums duplicates; it is
    # several times faster than torch's coalesce on tens of millions of edges.
    return sp.csr_matrix((w, (dst, src)), shape=(num_nodes, num_nodes))


def csr_to_torch(matrix: sp.csr_matrix, dtype: torch.dtype = torch.float32) -> Tensor:
    """Convert a SciPy CSR matrix into a ``torch.sparse_csr`` tensor of ``dtype``."""
    matrix = matrix.tocsr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(
            torch.from_numpy(matrix.indptr.astype(np.int64)),
            torch.from_numpy(matrix.indices.astype(np.int64)),
            torch.from_numpy(matrix.data).to(dtype), size=matrix.shape)


def normalize_csr(matrix: sp.csr_matrix, deg: np.ndarray, r: float) -> sp.csr_matrix:
    r"""A copy of ``matrix`` scaled to :math:`\mathbf{D}^{r-1}\mathbf{M}\mathbf{D}^{-r}`.

    ``deg`` ``[N]`` holds :math:`D_{ii}` (usually the row sums of ``matrix``); entries of a
    row or column whose degree is not positive become 0, so an isolated node gets an all-zero
    row and column. ``matrix`` itself is left unchanged, so one CSR can be scaled for several
    exponents ``r``. Cost :math:`O(N + E)`.
    """
    deg = np.asarray(deg, dtype=np.float64).ravel()
    if deg.shape[0] != matrix.shape[0]:
        raise ValueError(f"deg must have one entry per row ({matrix.shape[0]}), "
                         f"got {deg.shape[0]}.")
    positive = deg > 0
    left = np.zeros_like(deg)
    right = np.zeros_like(deg)
    left[positive] = deg[positive] ** (r - 1.0)
    right[positive] = deg[positive] ** (-r)
    scaled = matrix.tocsr(copy=True)
    rows = np.repeat(np.arange(scaled.shape[0]), np.diff(scaled.indptr))
    scaled.data = scaled.data * left[rows] * right[scaled.indices]
    return scaled


def normalized_adjacency(edge_index: Tensor, num_nodes: Optional[int] = None,
                         edge_weight: Optional[Tensor] = None, add_self_loops: bool = True,
                         r: float = 0.5, dtype: torch.dtype = torch.float32,
                         return_degree: bool = False
                         ) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    r"""The degree-normalised adjacency :math:`\hat{\mathbf{D}}^{r-1} \hat{\mathbf{A}}
    \hat{\mathbf{D}}^{-r}` as a ``torch.sparse_csr`` tensor ``[N, N]``.

    :math:`\hat{\mathbf{A}}` is the propagation matrix of :func:`adjacency_csr`
    (:math:`\hat{A}_{ij}` = weight of edge :math:`j \to i`, plus self-loops) and
    :math:`\hat{D}_{ii} = \sum_j \hat{A}_{ij}`. ``r=0.5`` is the symmetric GCN normalisation
    :math:`\hat{\mathbf{D}}^{-1/2}\hat{\mathbf{A}}\hat{\mathbf{D}}^{-1/2}`, ``r=0`` the
    row-stochastic random walk :math:`\hat{\mathbf{D}}^{-1}\hat{\mathbf{A}}` and ``r=1``
    :math:`\hat{\mathbf{A}}\hat{\mathbf{D}}^{-1}` (NAFS). Nodes of degree 0 (isolated, no
    self-loop) get an all-zero row and column. Cost :math:`O(N + E)`; no dense matrix.

    Args:
        edge_index: ``[2, E]`` edge list (directed edges are taken as given).
        num_nodes: number of nodes (default: ``edge_index.max() + 1``).
        edge_weight: optional non-negative ``[E]`` weights.
        add_self_loops: add a unit self-loop to every node without one.
        r: normalisation exponent (see above).
        dtype: floating dtype of the values.
        return_degree: also return the degree vector :math:`\hat{D}_{ii}` ``[N]`` (float64).
    """
    if not isinstance(r, (int, float)) or isinstance(r, bool) or not np.isfinite(r):
        raise ValueError(f"r must be a finite number (0.5 for symmetric normalisation), got {r!r}.")
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}.")
    matrix = adjacency_csr(edge_index, num_nodes, edge_weight, add_self_loops)
    deg = np.asarray(matrix.sum(axis=1)).ravel()
    adj = csr_to_torch(normalize_csr(matrix, deg, r), dtype)
    if return_degree:
        return adj, torch.from_numpy(deg)
    return adj


def _column_slab_parts(src: np.ndarray, dst: np.ndarray, w: Optional[np.ndarray],
                       loops: np.ndarray, left: np.ndarray, right: np.ndarray, n: int,
                       bounds: list, dtype: torch.dtype) -> list:
    r"""CSR blocks ``[n, b1 - b0]`` of :math:`\mathrm{diag}(left)\,\hat{A}\,\mathrm{diag}(right)`,
    one per column range of ``bounds``, from the edges ``src -> dst`` (weights ``w``, ``None``
    = 1) plus unit self-loops on ``loops``. Edges are grouped by slab with a stable radix
    sort on the 16-bit slab id (none when ``src`` is already sorted); each slab goes through
    SciPy's linear COO -> CSR conversion (duplicates summed) and keeps its 32-bit indices."""
    num_slabs = len(bounds) - 1
    width = bounds[1] - bounds[0]
    if src.size and bool(np.all(src[1:] >= src[:-1])):
        order = None
        starts = np.searchsorted(src, np.asarray(bounds), side="left")
    else:
        slab_id = (src // width).astype(np.int16)
        order = np.argsort(slab_id, kind="stable")
        starts = np.searchsorted(slab_id[order], np.arange(num_slabs + 1), side="left")
        del slab_id
    loop_starts = np.searchsorted(loops, np.asarray(bounds), side="left")
    index_dtype = np.int32 if max(n, src.size + loops.size) < 2 ** 31 else np.int64
    value_dtype = np.float32 if dtype == torch.float32 else np.float64
    parts = []
    for s in range(num_slabs):
        lo, hi = int(starts[s]), int(starts[s + 1])
        take = slice(lo, hi) if order is None else order[lo:hi]
        s_src, s_dst = src[take], dst[take]
        s_loops = loops[loop_starts[s]:loop_starts[s + 1]]
        size, total = hi - lo, hi - lo + s_loops.size
        rows = np.empty(total, dtype=index_dtype)
        cols = np.empty(total, dtype=index_dtype)
        rows[:size], rows[size:] = s_dst, s_loops
        np.subtract(s_src, bounds[s], out=cols[:size], casting="unsafe")
        np.subtract(s_loops, bounds[s], out=cols[size:], casting="unsafe")
        scaled = left[s_dst] if w is None else w[take] * left[s_dst]
        scaled *= right[s_src]                   # normalize_csr's order: (w * left) * right
        values = np.empty(total, dtype=value_dtype)
        values[:size] = scaled
        values[size:] = left[s_loops] * right[s_loops]
        del scaled, s_src, s_dst
        block = sp.csr_matrix((values, (rows, cols)), shape=(n, bounds[s + 1] - bounds[s]))
        del rows, cols, values
        parts.append(csr_tensor(torch.from_numpy(block.indptr), torch.from_numpy(block.indices),
                                torch.from_numpy(block.data).to(dtype), block.shape))
    return parts


def normalized_operator(edge_index: Tensor, num_nodes: int, num_features: int, hops: int,
                        edge_weight: Optional[Tensor] = None, add_self_loops: bool = True,
                        r: float = 0.5, dtype: torch.dtype = torch.float32,
                        device: Union[str, torch.device, None] = None
                        ) -> Union[Tensor, ColumnSlabs]:
    r"""The operator of :func:`normalized_adjacency`, in the form :func:`~pyagc.ops.spmm`
    multiplies fastest with ``hops`` products by an ``[num_nodes, num_features]`` operand.

    On CPU, when the operand exceeds twice :data:`~pyagc.ops.propagate.SLAB_BYTES` and
    ``hops >= 2`` (:func:`~pyagc.ops.propagate.slab_count`), it is built directly as :class:`~pyagc.ops.ColumnSlabs` (column slabs of
    about ``SLAB_BYTES`` of operand rows each, see :mod:`pyagc.ops.propagate`): the same
    matrix, its entries scaled in float64 edge by edge and duplicates summed afterwards, so
    values equal :func:`normalized_adjacency`'s up to float rounding (exactly without
    repeated edges), built in :math:`O(E + N \cdot \mathrm{slabs})` with 32-bit indices,
    several times faster than the single CSR on tens of millions of edges. Otherwise (GPU,
    small graphs, one hop) it is :func:`normalized_adjacency` ``(...).to(device)``, unchanged.
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    num_nodes = int(num_nodes)
    num_slabs = slab_count(num_nodes, num_features, dtype, hops, device)
    if num_slabs == 0:
        return normalized_adjacency(edge_index, num_nodes, edge_weight, add_self_loops, r=r,
                                    dtype=dtype).to(device)
    if not isinstance(r, (int, float)) or isinstance(r, bool) or not np.isfinite(r):
        raise ValueError(f"r must be a finite number (0.5 for symmetric normalisation), got {r!r}.")
    edge_index = check_edge_index(edge_index, num_nodes)
    src = edge_index[0].cpu().numpy()
    dst = edge_index[1].cpu().numpy()
    w = None if edge_weight is None else _edge_weight_array(edge_weight, src.shape[0])
    loops = np.zeros(0, dtype=np.int64)
    if add_self_loops:
        has_loop = np.zeros(num_nodes, dtype=bool)
        has_loop[src[src == dst]] = True
        loops = np.flatnonzero(~has_loop)
    deg = np.bincount(dst, weights=w, minlength=num_nodes).astype(np.float64)
    deg[loops] += 1.0
    positive = deg > 0
    left = np.zeros_like(deg)
    right = np.zeros_like(deg)
    left[positive] = deg[positive] ** (r - 1.0)
    right[positive] = deg[positive] ** (-r)
    width = math.ceil(num_nodes / num_slabs)
    bounds = [min(s * width, num_nodes) for s in range(math.ceil(num_nodes / width) + 1)]
    parts = _column_slab_parts(src, dst, w, loops, left, right, num_nodes, bounds, dtype)
    return ColumnSlabs(parts, bounds, (num_nodes, num_nodes))


def to_sparse_adjacency(edge_index: Tensor, num_nodes: int,
                        edge_weight: Optional[Tensor] = None,
                        dtype: torch.dtype = torch.float32) -> Tensor:
    """The transposed adjacency ``adj_t`` (``adj_t[j, i] = w`` for an edge ``i -> j``) as CSR.

    PyG's message passing reads a sparse adjacency as ``adj_t`` (rows are the targets), which
    is the convention of :func:`adjacency_csr`. No self-loops are added (a GCN adds its own).
    Shape ``[num_nodes, num_nodes]``, values of ``dtype``, on the device of ``edge_index``.
    """
    matrix = adjacency_csr(edge_index, num_nodes, edge_weight, add_self_loops=False)
    return csr_to_torch(matrix, dtype).to(edge_index.device)


def aggregation_csr(edge_index: Tensor, num_targets: int, num_sources: int, mean: bool = True,
                    dtype: torch.dtype = torch.float32) -> Tensor:
    """The aggregation matrix ``[num_targets, num_sources]`` of the edges ``j -> i`` as CSR
    (rows are the targets): ``adj @ x`` sums the features of each node's in-neighbours, or
    averages them with ``mean`` (entries ``1 / in-degree``; a node without in-edges gets 0),
    as PyG's ``'sum'`` / ``'mean'`` aggregation does, repeated edges counted each time. Every
    target must be below ``num_targets`` and every source below ``num_sources``. Built in
    torch on ``edge_index``'s device in ``O(E log E)`` (``O(E)`` when the edges come sorted by
    target, as a neighbour sampler's do)."""
    src, dst = edge_index[0], edge_index[1]
    if dst.numel() > 1 and not bool((dst[1:] >= dst[:-1]).all()):
        order = torch.argsort(dst, stable=True)
        src, dst = src[order], dst[order]
    counts = torch.bincount(dst, minlength=num_targets)
    crow = torch.zeros(num_targets + 1, dtype=torch.long, device=dst.device)
    torch.cumsum(counts, 0, out=crow[1:])
    if mean:
        values = counts.clamp(min=1).to(dtype).reciprocal().index_select(0, dst)
    else:
        values = torch.ones(dst.numel(), dtype=dtype, device=dst.device)
    return csr_tensor(crow, src, values, (num_targets, num_sources))


def _adjacency_and_degree(edge_index: Tensor, num_nodes: int,
                          dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
    return (to_sparse_adjacency(edge_index, num_nodes, None, dtype),
            degree(edge_index, num_nodes, None, dtype))


_last_graph = TensorCache(_adjacency_and_degree)


def cached_adjacency_and_degree(edge_index: Tensor, num_nodes: int,
                                dtype: torch.dtype = torch.float32) -> Tuple[Tensor, Tensor]:
    """``(adj_t, deg)`` of an unweighted graph: its CSR :func:`to_sparse_adjacency` and its
    in-degrees (:func:`~pyagc.ops.degree`), both of ``dtype``.

    Memoised for the last ``(edge_index, num_nodes, dtype)`` asked for (``edge_index`` by
    identity and version counter, see :class:`~pyagc.utils.TensorCache`): full-batch training
    asks for the same graph every epoch and gets it converted once, while a new mini-batch or an
    edited ``edge_index`` is converted afresh. The last result stays referenced until the next
    call with another graph.
    """
    return _last_graph(edge_index, num_nodes, dtype)
