r"""MAGI: modularity maximisation as contrastive learning.

Liu et al., "Revisiting Modularity Maximization for Graph Clustering: A Contrastive Learning
Perspective", KDD 2024.
"""
from __future__ import annotations

import copy
import math
from typing import Any, ClassVar, Optional, Tuple, Union

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.nn import Module
from torch_geometric.data import Data
from torch_geometric.nn.inits import reset

from pyagc.models.base import LossOutput, TrainableModel
from pyagc.ops.adjacency import to_sparse_adjacency
from pyagc.ops.precision import bf16_matmul_is_fast
from pyagc.sampling import (MAGINeighborLoader, MAGIRandomWalkSampler, fan_out_per_hop,
                            walk_positive_pairs)
from pyagc.utils.cache import TensorCache
from pyagc.utils.validation import check_scalar

__all__ = ["MAGI", "MAGINeighborLoader", "MAGIRandomWalkSampler",
           "precompute_full_graph_positive_pairs", "modularity_info_nce", "use_bf16"]

#: log2(e): exp(x) = exp2(x log2(e)).
LOG2_E = 1.0 / math.log(2.0)

#: Share of the rows above which :func:`modularity_info_nce` takes every row as an anchor
#: (the rows without a positive pair with weight 0) for the symmetric backward pass.
ALL_ROWS_SHARE = 0.9

#: Similarity entries computed at once by :func:`modularity_info_nce` (64 MiB of float32);
#: above it the rows go in blocks, each recomputed in the backward pass.
BLOCK_ENTRIES = 1 << 24

#: Size ``n * n * d`` (multiply-adds of one similarity product ``z z^T``) from which
#: :func:`modularity_info_nce` takes its products in bfloat16 by default (``bf16=None``, on
#: CPUs where :func:`bf16_matmul_is_fast`): 2^25, where bfloat16 starts to pay (see
#: :func:`use_bf16`).
BF16_MIN_PRODUCT = 1 << 25


def precompute_full_graph_positive_pairs(data: Data, num_walks: int = 100, walk_length: int = 2,
                                         *, seed: Optional[int] = None,
                                         generator: Optional[torch.Generator] = None) -> Tensor:
    r"""MAGI's positive pairs of the whole graph, for full-graph training (:meth:`MAGI.loss`).

    ``num_walks`` random walks of ``walk_length`` steps from every node give the walk
    similarity :math:`S` (visit counts), and the pairs with a positive modularity
    :math:`B_{ij} = W_{ij} - d_i d_j / 2m` of :math:`W = S + S^\top` are the positives (see
    :mod:`pyagc.sampling.modularity_walks`). Sparse throughout:
    :math:`O(N \cdot \text{num\_walks} \cdot \text{walk\_length})` time and memory.

    Args:
        data (Data): the graph (``edge_index``, ``num_nodes``).
        num_walks (int): walks per node.
        walk_length (int): steps per walk.
        seed (int, optional): seeds the walks (or give ``generator``); with neither, torch's
            global RNG.

    Returns:
        LongTensor ``[2, P]``: symmetric pairs of node ids, no self-pairs.

    Example::

        >>> data.pos_pairs = precompute_full_graph_positive_pairs(data, seed=0)
        >>> loss = model.loss(data.x, data.edge_index, data.pos_pairs)
    """
    if not isinstance(data, Data) or getattr(data, "edge_index", None) is None:
        raise TypeError("precompute_full_graph_positive_pairs expects a torch_geometric Data "
                        "object with an edge_index.")
    if seed is not None:
        if generator is not None:
            raise ValueError("Give either seed or generator, not both.")
        generator = torch.Generator(device=data.edge_index.device)
        generator.manual_seed(int(check_scalar(seed, "seed", int)))
    return walk_positive_pairs(data.edge_index, int(data.num_nodes), num_walks, walk_length,
                               generator)


def use_bf16(num_rows: int, channels: int, device: torch.device,
             min_product: int = BF16_MIN_PRODUCT) -> bool:
    r"""The default precision of :func:`modularity_info_nce` (``bf16=None``): bfloat16 products
    where they are fast (:func:`bf16_matmul_is_fast`) and the similarity product is large
    enough for them to pay, :math:`n^2 d \ge` ``min_product`` (:data:`BF16_MIN_PRODUCT`);
    float32 otherwise.

    Measured on an AMX CPU, one thread, loss forward + backward, float32 / bfloat16 time:
    d = 64: n = 300 0.99x, 600 1.30x, 1,000 2.2x; d = 512: n = 300 1.5x, 1,000 2.4x, 2,000
    3.0x, 2,708 4.1x, 8,192 3.9x, 16,384 3.4x (``n^2 d`` below ~2^25 gains nothing, so
    small graphs keep exact float32 arithmetic for free). The similarity products are then
    most of the run from Cora's size up: the documented Cora call (n = 2,708, d = 512,
    ``benchmarks/bench_magi_bf16.py --seeds 0 1 2 3 4 --modes bfloat16 float32``) takes
    25.3 CPU s per run in bfloat16 against 73.5 s in float32 (2.9x; the published V100 time,
    51.3 s, is met only in bfloat16) at the same quality: NMI 58.79 vs 58.85 (seeds 0-4,
    seed by seed within 0.6 except one KMeans outlier). bfloat16 rounding moves the gradient
    by ~0.17% of its norm, at every size (d = 512, n = 1,000 to 16,384). On an AVX-512 BF16
    CPU without AMX (AMD EPYC) the same Cora call takes 76.3 CPU s in bfloat16 against 155.4 s
    in float32 (2.04x), NMI 58.87 +- 0.78 vs 59.03 +- 0.75 (seeds 0-4).
    """
    if not bf16_matmul_is_fast(device):
        return False
    return num_rows * num_rows * channels >= min_product


def _masked_exp(rows: Tensor, z: Tensor, right: Tensor, anchors: Tensor, tau: float,
                z_max: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    r"""``(E, c, E 1)``: ``E = exp(S - c)`` for ``S = rows z^T / tau`` with each anchor's own
    column set to 0, the row shifts ``c`` and the row sums of ``E``.

    ``c_v = |z_v| max_u |z_u| / tau`` bounds row ``v`` (Cauchy-Schwarz), so no pass for the row
    maxima is needed, and it enters the product itself as one more column
    (``[rows / tau, -c] [z, 1]^T = S - c``, taken in base 2 for ``exp2``); a row whose every
    term underflowed (possible only for ``tau`` below ~0.02) is redone with its exact maximum.
    With ``bf16`` the product and ``E`` are bfloat16 (terms near the row maximum, which
    dominate the sums, to ~0.1%; bfloat16 row sums accumulated in float32): no float32 copy of
    the block is made.
    ``right`` is :func:`_right_operand` of ``z`` and ``z_max`` is ``max_u |z_u|``.
    """
    d = z.size(1)
    shift = rows.norm(dim=1).mul_(z_max / tau)
    # [rows / tau, -c, 0...] log2(e), written once in the product's dtype: the product is
    # (S - c) log2(e) and exp2 of it is E (torch's bfloat16 exp2 is ~2x faster than its exp).
    left = right.new_zeros(rows.size(0), right.size(1))
    torch.mul(rows, LOG2_E / tau, out=left[:, :d])
    left[:, d] = shift * -LOG2_E
    e = (left @ right.t()).exp2_()
    e[torch.arange(anchors.numel(), device=z.device), anchors] = 0.0
    total = e.sum(dim=1).to(shift.dtype)
    empty = torch.nonzero(total == 0).view(-1)
    if empty.numel():
        exact = rows[empty] @ z.t() / tau
        exact[torch.arange(empty.numel(), device=z.device), anchors[empty]] = float("-inf")
        redo = exact.max(dim=1, keepdim=True).values
        e[empty] = exact.sub_(redo).exp_().to(e.dtype)
        shift, total = shift.clone(), total.clone()
        shift[empty] = redo.squeeze(1)
        total[empty] = e[empty].sum(dim=1, dtype=shift.dtype)
    return e, shift, total


def _right_operand(z: Tensor, bf16: bool) -> Tensor:
    """``[z, 1]`` for :func:`_masked_exp`; in bfloat16 its width is padded with zeros to a
    multiple of 32, the tile width of the AMX kernels (an odd width such as 257 ran the
    product ~1.4x slower)."""
    d = z.size(1)
    pad = (-(d + 1)) % 32 if bf16 else 0
    right = z.new_zeros(z.size(0), d + 1 + pad, dtype=torch.bfloat16 if bf16 else z.dtype)
    right[:, :d] = z
    right[:, d] = 1.0
    return right


def _rows(z: Tensor, block: Tensor) -> Tensor:
    """``z[block]`` for a block of sorted, distinct anchors: a view when they are consecutive
    rows (every block, when every row is an anchor)."""
    first, last = int(block[0]), int(block[-1])
    return z[first:last + 1] if last - first == block.numel() - 1 else z[block]


class _ModularityInfoNCE(torch.autograd.Function):
    r"""The loss of :func:`modularity_info_nce` and its gradient, written out: the
    denominators :math:`\log \sum_{u \ne v} \exp(S_{vu})` of the anchors go in blocks of
    ``rows`` anchors and only their values are stored; the backward pass recomputes each
    block's exponentials, except with a single block, whose exponentials are kept. The
    positive term :math:`\sum_{(v,u)} z_v^\top z_u = \tfrac12 z \cdot (A + A^\top) z` is one
    sparse product, whose result is also its gradient."""

    @staticmethod
    def forward(ctx, z: Tensor, pairs: "_Pairs", tau: float, rows: int, bf16: bool) -> Tensor:
        anchors, weight = pairs.anchors, pairs.weight.to(z.dtype)
        lse, shifts, kept = [], [], None
        right = _right_operand(z, bf16)
        z_max = z.norm(dim=1).max()
        for lo in range(0, anchors.numel(), rows):
            block = anchors[lo:lo + rows]
            e, shift, total = _masked_exp(_rows(z, block), z, right, block, tau, z_max)
            lse.append(shift + total.log())
            shifts.append(shift)
            if rows >= anchors.numel():
                kept = e
        lse = torch.cat(lse)
        # z^T A z = z^T A^T z, so the positive term is half of z . (A + A^T) z, and
        # (A + A^T) z is also its gradient: one sparse product for both passes.
        spread = pairs.symmetric.to(z.dtype) @ z
        positive = torch.linalg.vecdot(z, spread, dim=1).sum() / (2.0 * tau)
        ctx.save_for_backward(z, lse, torch.cat(shifts), spread, z_max)
        ctx.pairs, ctx.kept, ctx.tau, ctx.rows, ctx.bf16 = pairs, kept, tau, rows, bf16
        return ((weight * lse).sum() - positive) / pairs.count

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        z, lse, shifts, spread, z_max = ctx.saved_tensors
        pairs, tau, rows, bf16, kept = ctx.pairs, ctx.tau, ctx.rows, ctx.bf16, ctx.kept
        ctx.kept = None
        anchors, weight = pairs.anchors, pairs.weight.to(z.dtype)
        n, d = z.shape
        factor = grad_out / (tau * pairs.count)
        # Positive term: d/dz sum_(v,u) z_v.z_u = (A + A^T) z, from the forward pass.
        grad = spread.mul(-factor)
        # P = diag(s) E with s_v = w_v exp(c_v - lse_v) (softmax rows times weights), i.e.
        # P_vu = w_v exp(S_vu - lse_v); d/dz of sum_vu P_vu z_v.z_u is P z on the anchor rows
        # plus P^T z. The row scalings go on the [n, d] factors, never on a block.
        s = (shifts - lse).exp_().mul_(weight).mul_(factor).unsqueeze(1)
        right = _right_operand(z, bf16) if kept is None else None
        span = float(shifts.max() - shifts.min()) if shifts.numel() else 0.0
        if anchors.numel() == n and span < 30.0:
            # Every row is an anchor and S is symmetric, so E^T = diag(r) E diag(1/r) with
            # r = exp(c - max c): (P^T z)_u = r_u (E (s / r * z))_u, and each block of rows
            # gets both terms from one product with its own rows of E:
            # [P z, P^T z]_block = [s, r]_block * (E_block [z, s / r * z]).
            r = (shifts - shifts.max()).exp_().unsqueeze(1)
            pair = z.new_empty(n, 2 * d, dtype=torch.bfloat16 if bf16 else z.dtype)
            pair[:, :d] = z
            torch.mul(z, s / r, out=pair[:, d:])
            for lo in range(0, n, rows):
                hi = min(lo + rows, n)
                e = kept if kept is not None else _masked_exp(
                    z[lo:hi], z, right, anchors[lo:hi], tau, z_max)[0]
                both = e @ pair
                grad[lo:hi].addcmul_(both[:, :d], s[lo:hi]).addcmul_(both[:, d:], r[lo:hi])
            return grad, None, None, None, None
        zm = z.to(torch.bfloat16 if bf16 else z.dtype)
        for lo in range(0, anchors.numel(), rows):
            block = anchors[lo:lo + rows]
            e = kept if kept is not None else _masked_exp(
                _rows(z, block), z, right, block, tau, z_max)[0]
            grad.index_add_(0, block, (e @ zm).to(z.dtype).mul_(s[lo:lo + rows]))
            # (z_block^T diag(s) E)^T: E is read as stored, not transposed.
            grad += ((_rows(z, block) * s[lo:lo + rows]).to(e.dtype).t() @ e).t().to(
                z.dtype)
        return grad, None, None, None, None


class _Pairs:
    """What the loss needs of ``pos_pairs [2, P]`` over ``n`` nodes: the anchors (distinct
    first entries) with their weights, ``A + A^T`` (CSR) for the pair matrix ``A``
    (``A[u, v]`` = weight of the pairs ``(v, u)``) and the normaliser ``count``.
    ``per_anchor``: each pair of anchor ``v`` weighs ``1 / |M+_v|`` and each anchor 1
    (``count`` = anchors); otherwise every pair weighs 1 (``count`` = pairs).

    When the anchors are at least :data:`ALL_ROWS_SHARE` of the ``n`` rows but not all (a
    mini-batch's expanded nodes: typically 99.8% have a positive pair), every row is taken as
    an anchor, the others with weight 0: their denominators cost a few more rows, and the
    backward pass can take its symmetric form (see :class:`_ModularityInfoNCE`)."""

    def __init__(self, pos_pairs: Tensor, num_nodes: int, per_anchor: bool) -> None:
        self.anchors, inverse, counts = torch.unique(pos_pairs[0], return_inverse=True,
                                                     return_counts=True)
        if per_anchor:
            self.count = int(self.anchors.numel())
            self.weight = torch.ones_like(counts, dtype=torch.float32)
            values = 1.0 / counts[inverse].to(torch.float32)
        else:
            self.count = int(pos_pairs.size(1))
            self.weight = counts.to(torch.float32)
            values = None
        if ALL_ROWS_SHARE * num_nodes <= self.anchors.numel() < num_nodes:
            weight = self.weight.new_zeros(num_nodes)
            weight[self.anchors] = self.weight
            self.anchors = torch.arange(num_nodes, device=pos_pairs.device)
            self.weight = weight
        both = None if values is None else torch.cat([values, values])
        self.symmetric = to_sparse_adjacency(torch.cat([pos_pairs, pos_pairs.flip(0)], dim=1),
                                             num_nodes, both)


#: The pair structure of the last ``pos_pairs`` tensor seen (full-graph training passes the
#: same one every epoch).
_pairs_of = TensorCache(_Pairs)


def modularity_info_nce(z: Tensor, pos_pairs: Tensor, tau: float,
                        block_entries: int = BLOCK_ENTRIES,
                        bf16: Optional[bool] = None, per_anchor: bool = False) -> Tensor:
    r"""MAGI's contrastive loss on L2-normalised embeddings ``z`` ``[n, d]``: the mean over
    the positive pairs :math:`(v, u)` (``pos_pairs [2, P]``) of

    .. math::
        -\log \frac{\exp(\mathbf{z}_v^\top \mathbf{z}_u / \tau)}
        {\sum_{w \ne v} \exp(\mathbf{z}_v^\top \mathbf{z}_w / \tau)},

    every other node being in the denominator (positives :math:`B_{vw} > 0` and negatives
    :math:`B_{vw} \le 0` alike).

    The denominators are :math:`O(n^2 d)` time. Memory stays :math:`O(\text{block} \cdot n)`:
    above ``block_entries`` similarities the anchor rows go in blocks whose exponentials are
    recomputed in the backward pass instead of kept, so no ``n x n`` matrix is held (one
    ``n x n`` matrix below the limit). ``bf16`` takes the similarity products and the
    exponentials in bfloat16 with float32 sums (``None``: :func:`use_bf16`, i.e. on CPUs with
    fast bfloat16 products and only for products of at least :data:`BF16_MIN_PRODUCT`
    multiply-adds), ~4x faster for the loss on such CPUs; the loss moves by ~2e-4 of its
    value, the gradient by ~0.2% of its norm.
    When every row is an anchor (or at least :data:`ALL_ROWS_SHARE` of them, the others then
    taken with weight 0), the backward pass uses the symmetry of the similarities: one product
    of each block of rows with ``[n, 2d]``, no transposed product (a mini-batch of the
    Products settings, 22.7k nodes: 4.37 -> 2.87 CPU s per batch for the loss,
    ``benchmarks/bench_magi_scale.py``).
    """
    if pos_pairs.size(1) == 0:
        return z.sum() * 0.0
    if bf16 is None:
        bf16 = use_bf16(z.size(0), z.size(1), z.device)
    rows = max(1, block_entries // max(1, z.size(0)))
    pairs = _pairs_of(pos_pairs, z.size(0), bool(per_anchor))
    return _ModularityInfoNCE.apply(z, pairs, float(tau), rows, bool(bf16))


def _minmax_rows(h: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(u, span, argmin, argmax)``: ``u = (h - min) / max(span, 1e-12)`` per row, with
    ``span = max - min`` and the column indices of each row's minimum and maximum."""
    low, argmin = h.min(dim=1, keepdim=True)
    high, argmax = h.max(dim=1, keepdim=True)
    span = high - low
    return (h - low).div_(span.clamp_min(1e-12)), span, argmin, argmax


class _UnitScaledRows(torch.autograd.Function):
    r""":math:`\mathbf{z} = \text{normalize}(\text{minmax}(\mathbf{h}))` per row (or
    :math:`\text{normalize}(\mathbf{h})` with ``minmax=False``) with its gradient written out:
    the same maths as the composed torch operations (the min / max gradient to the arg-min /
    arg-max entry, none through a clamped span or norm), in a few passes over ``[n, d]``
    instead of the ~20 of the composed graph (a quarter of a Cora epoch)."""

    @staticmethod
    def forward(ctx, h: Tensor, minmax: bool) -> Tensor:
        if minmax:
            u, span, argmin, argmax = _minmax_rows(h)
        else:
            u, span, argmin, argmax = h, None, None, None
        norm = u.norm(dim=1, keepdim=True)
        z = u / norm.clamp_min(1e-12)
        ctx.save_for_backward(z, u, norm, span, argmin, argmax)
        ctx.minmax = minmax
        return z

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        z, u, norm, span, argmin, argmax = ctx.saved_tensors
        # z = u / |u|: grad_u = (g - z (z . g)) / |u|, or g / eps where the norm is clamped.
        dot = torch.linalg.vecdot(z, grad, dim=1).unsqueeze(1)
        grad_u = torch.addcmul(grad, z, dot.masked_fill_(norm < 1e-12, 0.0), value=-1.0)
        if not ctx.minmax:
            return grad_u.div_(norm.clamp_min(1e-12)), None
        # u = (h - lo) / r: grad_h = grad_u / r on every entry, plus
        # dL/dlo = sum_j grad_h_j (u_j - 1) at the arg-min and dL/dhi = -sum_j grad_h_j u_j
        # at the arg-max (only -sum_j grad_h_j where r is clamped to 1e-12).
        clamped = span < 1e-12
        grad_h = grad_u.div_(norm.clamp_min(1e-12) * span.clamp_min(1e-12))
        weighted = torch.linalg.vecdot(grad_h, u, dim=1).unsqueeze(1).masked_fill_(clamped, 0.0)
        grad_h.scatter_add_(1, argmin, weighted - grad_h.sum(dim=1, keepdim=True))
        grad_h.scatter_add_(1, argmax, -weighted)
        return grad_h, None


def _check_pairs(pos_pairs: Any, num_nodes: int, where: str) -> Tensor:
    if not isinstance(pos_pairs, Tensor) or pos_pairs.dim() != 2 or pos_pairs.size(0) != 2:
        raise ValueError(f"{where}: pos_pairs must be a [2, num_pairs] tensor of node indices "
                         "(precompute_full_graph_positive_pairs or MAGINeighborLoader make it).")
    if pos_pairs.dtype.is_floating_point or pos_pairs.dtype == torch.bool:
        raise TypeError(f"{where}: pos_pairs must hold integer node indices, got "
                        f"{pos_pairs.dtype}.")
    if pos_pairs.numel() and (int(pos_pairs.min()) < 0 or int(pos_pairs.max()) >= num_nodes):
        raise ValueError(f"{where}: pos_pairs indices must lie in [0, {num_nodes}); were they "
                         "made for another graph or batch?")
    return pos_pairs.long()


class MAGI(TrainableModel):
    r"""Modularity-aware graph clustering via contrastive learning (Liu et al., KDD 2024).

    The modularity matrix :math:`B_{vu} = W_{vu} - d_v d_u / 2m` splits the node pairs: the
    pairs more connected than the configuration model expects (:math:`B_{vu} > 0`, the
    positives :math:`\mathcal{M}^+_v`) should end in one cluster, the others
    (:math:`\mathcal{M}^-_v`) apart. Maximising modularity is then contrastive learning with
    these positives and negatives, here the InfoNCE loss

    .. math::
        \mathcal{L} = -\frac{1}{|\mathcal{P}|}\sum_{v \in \mathcal{B}}
        \sum_{u \in \mathcal{M}^+_v} \log
        \frac{\exp(\mathbf{z}_v^\top \mathbf{z}_u / \tau)}
        {\sum_{u \in \mathcal{M}^+_v} \exp(\mathbf{z}_v^\top \mathbf{z}_u / \tau)
        + \sum_{u' \in \mathcal{M}^-_v} \exp(\mathbf{z}_v^\top \mathbf{z}_{u'} / \tau)}

    (:math:`|\mathcal{P}|` positive pairs; :func:`modularity_info_nce`; with ``per_anchor``,
    the default, each inner sum is divided by :math:`|\mathcal{M}^+_v|` and the outer mean
    runs over the anchors instead) on the embeddings
    :math:`\mathbf{z} = \text{normalize}(\text{minmax}(f(\mathbf{X}, \mathbf{A})))` of the
    encoder :math:`f`, the min-max scaling taken per row (``scale_embeddings``). For
    high-order proximity, :math:`W = S + S^\top` is built from random walks: :math:`S_{vu}`
    counts the visits to :math:`u` of walks from :math:`v`.

    * Full graph (:meth:`loss`): ``pos_pairs`` from walks from every node
      (:func:`precompute_full_graph_positive_pairs`); the denominators are
      :math:`O(N^2 d)` time (computed in row blocks, never an ``N x N`` matrix in memory),
      refused above :attr:`full_graph_max_nodes` nodes — train in mini-batches there.
    * Mini-batch (:meth:`loss_batch`): the two-stage random walk of
      :class:`~pyagc.sampling.MAGINeighborLoader` expands each batch of root nodes to
      sub-communities and computes the modularity pairs among the expanded nodes; the loss
      runs over the expanded nodes (:math:`O(|\mathcal{B}|^2 d)`).

    Args:
        encoder (Module): GNN ``(x [N, F], edge_index, ...) -> [N, D]``.
        tau (float): temperature :math:`\tau`.
        scale_embeddings (bool): min-max scale each embedding row before the L2
            normalisation (also in :meth:`embed`, which the clustering step sees).
        num_walks (int, optional): walks per node for the positive pairs
            (keyword-only; ``None``: 100 full graph, 20 mini-batch, the helpers' defaults).
        walk_length (int, optional): steps per walk (``None``: 2 full graph, 4 mini-batch).
        bf16 (bool, optional): similarity products in bfloat16 (``None``: :func:`use_bf16`,
            on CPUs with native bfloat16 products for similarity products of at least
            :data:`BF16_MIN_PRODUCT` multiply-adds: Cora's full graph and anything larger,
            not a tiny graph). The documented Cora call, seeds 0-4, on an AMX CPU: 58.79 NMI
            in 25.3 CPU s per run in bfloat16, 58.85 in 73.5 s in float32
            (``benchmarks/bench_magi_bf16.py``; AVX-512 BF16 without AMX: 2.04x); seeds 5-9 in
            bfloat16 59.25, seeds 0-9 59.02 +- 0.88 (``benchmarks/bench_documented.py``).
        per_anchor (bool): weigh each pair of anchor :math:`v` by :math:`1/|\mathcal{M}^+_v|`
            and average over the anchors (SupCon-style) instead of the plain mean over all
            pairs (``False``). Default ``True`` by measurement: on Cora with the published
            settings, 5 seeds, 59.27 +- 0.68 NMI / 74.36 +- 1.10 ACC against 58.38 +- 0.34 /
            73.60 +- 0.61 for the pair mean (published: 58.94 / 74.22).

    Example::

        >>> encoder = create_tuned_gnn('gcn', data.num_features, 512, num_layers=1)
        >>> model = MAGI(encoder, tau=0.3)
        >>> pos_pairs = precompute_full_graph_positive_pairs(data, num_walks=100,
        ...                                                  walk_length=2, seed=0)
        >>> loss = model.loss(data.x, data.edge_index, pos_pairs).total
    """

    family = "deep-decoupled"
    supports_mini_batch = True
    #: Largest graph :meth:`loss` accepts: its denominators cost :math:`O(N^2 d)` per epoch
    #: (50,000 nodes and 512 channels: ~2.6 TFLOP forward); larger graphs train in
    #: mini-batches (``--mini-batch``, :class:`~pyagc.sampling.MAGINeighborLoader`).
    full_graph_max_nodes: ClassVar[int] = 50_000

    def __init__(self, encoder: Module, tau: float = 0.5, scale_embeddings: bool = True, *,
                 num_walks: Optional[int] = None, walk_length: Optional[int] = None,
                 bf16: Optional[bool] = None, per_anchor: bool = True) -> None:
        super().__init__()
        if not isinstance(encoder, Module):
            raise TypeError(f"encoder must be a torch.nn.Module, got {type(encoder).__name__}.")
        self.encoder = encoder
        self.tau = float(check_scalar(tau, "tau", (int, float), min_val=0.0,
                                      include_boundaries="neither"))
        self.scale_embeddings = bool(check_scalar(scale_embeddings, "scale_embeddings", bool))
        for name, value in (("num_walks", num_walks), ("walk_length", walk_length)):
            if value is not None:
                check_scalar(value, name, int, min_val=1)
        self.num_walks = num_walks
        self.walk_length = walk_length
        if bf16 is not None:
            check_scalar(bf16, "bf16", bool)
        self.bf16 = bf16
        self.per_anchor = bool(check_scalar(per_anchor, "per_anchor", bool))

    def reset_parameters(self) -> None:
        reset(self.encoder)

    def embed(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
              **kwargs: Any) -> Tensor:
        """Encoder output ``[N, D]``, min-max scaled per row when ``scale_embeddings``."""
        if edge_weight is not None:
            kwargs["edge_weight"] = edge_weight
        h = self.encoder(x, edge_index, **kwargs)
        return _minmax_rows(h)[0] if self.scale_embeddings else h

    def _contrast(self, h: Tensor, pos_pairs: Tensor) -> LossOutput:
        """The loss on the encoder output ``h``: its rows min-max scaled (with
        ``scale_embeddings``) and L2-normalised, then :func:`modularity_info_nce`."""
        z = _UnitScaledRows.apply(h, self.scale_embeddings)
        return LossOutput(modularity_info_nce(z, pos_pairs, self.tau, bf16=self.bf16,
                                              per_anchor=self.per_anchor), {})

    def _check_full_graph(self, num_nodes: int) -> None:
        if num_nodes > self.full_graph_max_nodes:
            raise ValueError(
                f"MAGI's full-graph loss is O(N^2) in similarities and refuses {num_nodes} "
                f"nodes (limit MAGI.full_graph_max_nodes = {self.full_graph_max_nodes}); train "
                "in mini-batches: `pyagc run MAGI --mini-batch`, or MAGINeighborLoader with "
                "loss_batch.")

    def loss(self, x: Tensor, edge_index: Tensor, pos_pairs: Tensor,
             **kwargs: Any) -> LossOutput:
        """Full-graph loss; ``pos_pairs`` ``[2, P]`` node ids from
        :func:`precompute_full_graph_positive_pairs`."""
        self._check_full_graph(int(x.size(0)))
        pos_pairs = _check_pairs(pos_pairs, int(x.size(0)), "MAGI.loss").to(x.device)
        return self._contrast(self.encoder(x, edge_index, **kwargs), pos_pairs)

    def loss_batch(self, batch: Data, **kwargs: Any) -> LossOutput:
        """Loss over the expanded seed nodes of a :class:`MAGINeighborLoader` batch (its
        first ``batch.expanded_batch_size`` rows), with ``batch.pos_pairs`` local to them."""
        if getattr(batch, "pos_pairs", None) is None or \
                getattr(batch, "expanded_batch_size", None) is None:
            raise ValueError("MAGI.loss_batch needs batches with pos_pairs and "
                             "expanded_batch_size: build them with MAGINeighborLoader.")
        size = int(batch.expanded_batch_size)
        pos_pairs = _check_pairs(batch.pos_pairs, size, "MAGI.loss_batch")
        h = self.encoder(**self._inputs(batch), **kwargs)[:size]
        return self._contrast(h, pos_pairs.to(h.device))

    # ------------------------------------------------------------------ runner steps
    def train_loader(self, data: Data, *, mini_batch: bool = False, batch_size: int = 2048,
                     fan_out: Union[int, list] = 10, seed: Optional[int] = None) -> Any:
        """Full graph: ``data`` with its ``pos_pairs`` (computed once, seeded by ``seed``).
        Mini-batch: a :class:`MAGINeighborLoader` (``batch_size`` roots, ``fan_out``
        neighbours per encoder layer)."""
        if not mini_batch:
            self._check_full_graph(int(data.num_nodes))
            out = copy.copy(data)
            out.pos_pairs = precompute_full_graph_positive_pairs(
                data, self.num_walks or 100, self.walk_length or 2, seed=seed)
            return out.to(self.device)
        return MAGINeighborLoader(data, fan_out_per_hop(self.num_hops, fan_out),
                                  num_walks=self.num_walks or 20,
                                  walk_length=self.walk_length or 4, batch_size=batch_size,
                                  shuffle=True, seed=seed)

    def fit_epoch(self, loader: Any, optimizers, epoch: int, verbose: bool = False,
                  **loss_kwargs: Any) -> float:
        if isinstance(loader, Data):
            return self.train_full(loader, optimizers["model"], epoch, verbose=False,
                                   pos_pairs=loader.pos_pairs, **loss_kwargs)
        return self.train_batch(loader, optimizers["model"], epoch, verbose=verbose,
                                **loss_kwargs)
