"""NS4GC: node-similarity-guided contrastive graph clustering.

Liu, Gao, Yang, Ma & Xie, "Reliable Node Similarity Matrix Guided Contrastive Graph
Clustering", IEEE TKDE 2024.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module

from pyagc.models.base import LossOutput
from pyagc.models.two_view import TwoViewModel
from pyagc.ops.random import DeviceGenerators
from pyagc.ops.sparse import csr_pattern, pattern_sddmm
from pyagc.utils.cache import TensorCache
from pyagc.utils.validation import check_scalar

__all__ = ["NS4GC", "pair_keys", "non_edge_sigmoid_sum"]

#: Entries of the similarity matrix held at once by the exact non-edge term: row blocks of
#: 2^22 entries (16 MiB in float32); a graph with at most 2^24 pairs (N <= 4096, 64 MiB) is
#: done in one block whose sigmoid is kept for the backward pass.
_BLOCK_ENTRIES = 1 << 22
_ONE_BLOCK_ENTRIES = 1 << 24


def pair_keys(edge_index: Tensor, num_nodes: int) -> Tensor:
    """The distinct off-diagonal pairs of ``edge_index`` as sorted keys ``i * N + j``
    (``int64``, shape ``[E']``); self-loops and repeated edges are dropped."""
    row, col = edge_index[0].long(), edge_index[1].long()
    keep = row != col
    return torch.unique(row[keep] * num_nodes + col[keep], sorted=True)


class _SigmoidSum(torch.autograd.Function):
    """``sum_ij sigmoid((z1 z2^T - s) / tau)_ij`` computed in row blocks of ``rows`` rows.

    With one block the sigmoid matrix is kept for the backward pass, which turns it into the
    derivative ``sigmoid - sigmoid^2`` in place (once; a second backward pass, with
    ``retain_graph``, recomputes it); with several blocks, the backward pass recomputes each
    block, so memory stays ``O(rows * N)`` instead of ``O(N^2)``."""

    @staticmethod
    def _block(z1: Tensor, z2t: Tensor, s: float, tau: float) -> Tensor:
        # sigmoid(z1 z2^T / tau - s / tau): the 1 / tau goes on the [rows, D] factor.
        return torch.mm(z1 * (1.0 / tau), z2t).sub_(s / tau).sigmoid_()

    @staticmethod
    def forward(ctx, z1: Tensor, z2: Tensor, s: float, tau: float, rows: int) -> Tensor:
        ctx.s, ctx.tau, ctx.rows = s, tau, rows
        ctx.save_for_backward(z1, z2)
        # An intermediate (not an input or output): kept on ctx, consumed by the first backward.
        ctx.sig = None
        z2t = z2.t()
        if rows >= z1.size(0):
            ctx.sig = _SigmoidSum._block(z1, z2t, s, tau)
            return ctx.sig.sum()
        total = z1.new_zeros(())
        for start in range(0, z1.size(0), rows):
            total += _SigmoidSum._block(z1[start:start + rows], z2t, s, tau).sum()
        return total

    @staticmethod
    def backward(ctx, grad: Tensor):
        z1, z2 = ctx.saved_tensors
        n, rows = z1.size(0), ctx.rows
        g1 = torch.empty_like(z1)
        g2t = torch.zeros(z2.size(1), z2.size(0), dtype=z2.dtype, device=z2.device)
        z2t = z2.t()
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            if ctx.sig is not None:
                sig, ctx.sig = ctx.sig, None
            else:
                sig = _SigmoidSum._block(z1[start:stop], z2t, ctx.s, ctx.tau)
            # d sigmoid(u) / du = sigmoid(u) - sigmoid(u)^2, in place.
            d_sim = sig.addcmul_(sig, sig, value=-1.0)
            torch.mm(d_sim, z2, out=g1[start:stop])
            # (z1^T d_sim)^T: the product in this order is faster than d_sim^T z1.
            g2t.addmm_(z1[start:stop].t(), d_sim)
        scale = grad / ctx.tau
        return g1.mul_(scale), g2t.t().mul_(scale), None, None, None


def non_edge_sigmoid_sum(z1: Tensor, z2: Tensor, s: float, tau: float) -> Tensor:
    r""":math:`\sum_{i,j} \sigma((\mathbf{z}^{(1)}_i \cdot \mathbf{z}^{(2)}_j - s)/\tau)` over
    all ``N^2`` pairs, exactly (differentiable), in ``O(N^2 D)`` time; memory ``O(N^2)`` up to
    ``N^2 = 2^24`` pairs, above that row blocks of ``2^22`` entries recomputed in the
    backward pass."""
    n1, n2 = z1.size(0), max(1, z2.size(0))
    rows = n1 if n1 * n2 <= _ONE_BLOCK_ENTRIES else max(1, _BLOCK_ENTRIES // n2)
    return _SigmoidSum.apply(z1, z2, float(s), float(tau), rows)


class NS4GC(TwoViewModel):
    r"""Node-similarity-guided contrastive graph clustering (Liu et al., TKDE 2024).

    A shared encoder embeds two augmented views; with the row-normalised embeddings
    :math:`\mathbf{Z}^{(k)} = \mathbf{H}^{(k)} / \|\mathbf{H}^{(k)}\|` and their similarity
    :math:`\mathbf{S} = \mathbf{Z}^{(1)}\mathbf{Z}^{(2)\top}` (never formed whole),

    .. math::
        \mathcal{L} = \underbrace{-\frac{1}{N}\sum_i \mathbf{S}_{ii}}_{\text{ali}}
        \;\underbrace{- \frac{\lambda}{|\mathcal{E}|}\sum_{(i,j)\in\mathcal{E}}
        \mathbf{S}_{ij}}_{\lambda\,\text{nei}}
        \;+\; \gamma\,\underbrace{\frac{1}{|\bar{\mathcal{E}}|}\sum_{(i,j)\in\bar{\mathcal{E}}}
        \sigma\Bigl(\frac{\mathbf{S}_{ij} - s}{\tau}\Bigr)}_{\text{spa}}

    where :math:`\mathcal{E}` are the distinct ordered pairs ``i != j`` of the clean graph's
    ``edge_index`` (self-loops and duplicates ignored) and :math:`\bar{\mathcal{E}}` the
    other ordered pairs ``i != j`` (the non-edges), :math:`|\bar{\mathcal{E}}| = N(N-1) -
    |\mathcal{E}|`.

    The non-edge term ``spa`` has two paths:

    * ``N <= exact_max_nodes`` (default 10,000): **exact**, the sum over all pairs computed
      in row blocks minus the diagonal and the edges, ``O(N^2 D)`` time and ``O(2^{22})``
      extra memory (the backward pass recomputes each block);
    * larger ``N``: an **unbiased sampled estimate**: ``num_samples`` ordered pairs
      ``i != j`` are drawn uniformly (default ``32 N``), those that are edges are discarded,
      and the mean over the rest is taken. Given the number kept, each kept pair is uniform
      over :math:`\bar{\mathcal{E}}`, so the estimate's expectation (and its gradient's) is the
      exact term; ``O(num_samples (D + log E))`` time. The sampled similarities are one
      sampled dense-dense product on the pairs' CSR pattern and the backward pass two sparse
      products (:func:`~pyagc.ops.sparse.pattern_sddmm`), not gathers of two ``[K, D]`` row
      sets: at 16,384 seeds, 256 columns and the default ``32 N`` pairs (one thread), 4.0 s
      forward and 2.2 s backward with the gathers, 0.17 s and 0.15 s now, the draws
      included.

    Args:
        encoder: shared encoder, ``(x [N, F], edge_index [2, E]) -> [N, D]``.
        transform1, transform2: the two views (e.g. :class:`~pyagc.transforms.GSSLTransform`).
        s: similarity threshold of the sparsity term (default ``0.6``).
        tau: temperature ``> 0`` of the sigmoid (default ``0.1``).
        lam: weight :math:`\lambda \ge 0` of the neighbour term (default ``1.0``).
        gam: weight :math:`\gamma \ge 0` of the sparsity term (default ``1.0``).
        exact_max_nodes: largest ``N`` (nodes, or seeds of a mini-batch) for the exact
            non-edge term (keyword-only).
        num_samples: pairs drawn by the sampled estimate (keyword-only; ``None``: ``32 N``).
        seed: seed of the pair sampling (keyword-only; ``None``: torch's global RNG); each
            device has its own stream, restarted by ``reset_parameters``.

    Outputs: :meth:`forward` gives ``(h1 [N, D], h2 [N, D])``; :meth:`loss` a
    :class:`~pyagc.models.LossOutput` with components ``ali``, ``nei`` and ``spa``;
    :meth:`loss_batch` the same on a batch's seed nodes and the sampled edges between them;
    :meth:`embed` the encoder on the clean graph, ``[N, D]``.
    """

    def __init__(self, encoder: Module, transform1: Any, transform2: Any, s: float = 0.6,
                 tau: float = 0.1, lam: float = 1.0, gam: float = 1.0, *,
                 exact_max_nodes: int = 10_000, num_samples: Optional[int] = None,
                 seed: Optional[int] = None) -> None:
        super().__init__(encoder, transform1, transform2)
        self.s = float(check_scalar(s, "s", (int, float), min_val=-1.0, max_val=1.0))
        self.tau = float(check_scalar(tau, "tau", (int, float), min_val=0.0,
                                      include_boundaries="neither"))
        self.lam = float(check_scalar(lam, "lam", (int, float), min_val=0.0))
        self.gam = float(check_scalar(gam, "gam", (int, float), min_val=0.0))
        self.exact_max_nodes = int(check_scalar(exact_max_nodes, "exact_max_nodes", int,
                                                min_val=0))
        self.num_samples = None if num_samples is None else int(
            check_scalar(num_samples, "num_samples", int, min_val=1))
        self._rng = DeviceGenerators(seed)
        self._keys = TensorCache(pair_keys)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self._rng.reset()

    # ------------------------------------------------------------------ loss terms
    def _sigma(self, sim: Tensor) -> Tensor:
        return torch.sigmoid((sim - self.s) / self.tau)

    def non_edge_term(self, z1: Tensor, z2: Tensor, keys: Tensor,
                      exact: Optional[bool] = None) -> Tensor:
        r"""``spa``: the mean of :math:`\sigma((\mathbf{S}_{ij} - s)/\tau)` over the non-edges,
        for normalised ``z1, z2 [N, D]`` and the sorted edge keys of :func:`pair_keys`.
        ``exact`` forces a path (default: exact when ``N <= exact_max_nodes``)."""
        n = z1.size(0)
        num_non_edges = n * (n - 1) - keys.numel()
        if num_non_edges <= 0:
            return z1.sum() * 0.0
        if exact is None:
            exact = n <= self.exact_max_nodes
        if exact:
            total = non_edge_sigmoid_sum(z1, z2, self.s, self.tau)
            total = total - self._sigma((z1 * z2).sum(dim=1)).sum()
            if keys.numel():
                row, col = keys // n, keys % n
                total = total - self._sigma((z1[row] * z2[col]).sum(dim=1)).sum()
            return total / num_non_edges
        i, j = self.sample_non_edges(n, keys, z1.device)
        if i.numel() == 0:
            return z1.sum() * 0.0
        # The sampled similarities as one sparse sampled product (and two sparse products
        # in the backward pass) instead of gathering two [K, D] row sets: same pairs, same
        # mean up to float rounding.
        return self._sigma(pattern_sddmm(csr_pattern(i, j, n, n), z1, z2)).mean()

    def sample_non_edges(self, num_nodes: int, keys: Tensor, device: torch.device
                         ) -> Tuple[Tensor, Tensor]:
        """Uniform ordered pairs ``i != j`` with the edges among them discarded: ``(i, j)``,
        each ``[K']`` with ``K' <= num_samples``."""
        count = self.num_samples or 32 * num_nodes
        gen = self._rng(device)
        i = torch.randint(num_nodes, (count,), generator=gen, device=device)
        j = torch.randint(num_nodes - 1, (count,), generator=gen, device=device)
        j = j + (j >= i).long()
        if keys.numel():
            key = i * num_nodes + j
            pos = torch.searchsorted(keys, key).clamp_(max=keys.numel() - 1)
            keep = keys[pos] != key
            i, j = i[keep], j[keep]
        return i, j

    def objective(self, h1: Tensor, h2: Tensor, edge_index: Tensor) -> LossOutput:
        if h1.shape != h2.shape or h1.dim() != 2:
            raise ValueError(f"The two views' embeddings must both be [N, D], got "
                             f"{tuple(h1.shape)} and {tuple(h2.shape)}.")
        n = h1.size(0)
        z1, z2 = F.normalize(h1, dim=1), F.normalize(h2, dim=1)
        keys = self._keys(edge_index, n)
        ali = -(z1 * z2).sum(dim=1).mean()
        if keys.numel():
            row, col = keys // n, keys % n
            nei = -(z1[row] * z2[col]).sum(dim=1).mean()
        else:
            nei = z1.sum() * 0.0
        spa = self.non_edge_term(z1, z2, keys)
        total = ali + self.lam * nei + self.gam * spa
        return LossOutput(total, {"ali": ali, "nei": nei, "spa": spa})

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.encoder!r}, s={self.s}, tau={self.tau}, "
                f"lam={self.lam}, gam={self.gam})")
