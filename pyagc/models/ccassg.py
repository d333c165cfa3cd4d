"""CCA-SSG: canonical-correlation self-supervised graph learning.

Zhang, Wu, Yang, Li & Yu, "From Canonical Correlation Analysis to Self-supervised Graph
Neural Networks", NeurIPS 2021.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.nn import Module

from pyagc.models.base import LossOutput
from pyagc.models.two_view import TwoViewModel, standardize_columns
from pyagc.utils.validation import check_scalar

__all__ = ["CCASSG", "gram_deviation"]

#: Added to the column variances only so that a constant column does not divide by 0; far
#: below float32's resolution of any real variance (see CCASSG's docstring).
_VAR_FLOOR = 1e-20


class _CCAObjective(torch.autograd.Function):
    r"""``(total, inv, dec)`` of two standardised ``[N, D]`` embeddings ``z1, z2``:
    :math:`\text{inv} = \|z_1 - z_2\|_F^2 = \operatorname{tr} C_1 + \operatorname{tr} C_2 -
    2\langle z_1, z_2\rangle`, :math:`\text{dec} = \sum_k \|C_k - I\|_F^2` with
    :math:`C_k = z_k^\top z_k`, :math:`\text{total} = \tfrac{1}{2}\text{inv} +
    \lambda\,\text{dec}`. The gradient of ``total`` is analytic,
    :math:`\partial/\partial z_1 = z_1 (I + 4\lambda (C_1 - I)) - z_2` (and symmetrically),
    so one step costs four ``N D^2`` products (two Gram matrices, two gradients) and a few
    ``[N, D]`` passes; ``inv`` and ``dec`` are for logging (no gradient)."""

    @staticmethod
    def forward(ctx, z1: Tensor, z2: Tensor, lam: float):
        dev = []
        for z in (z1, z2):
            gram = z.t() @ z
            gram.diagonal().sub_(1.0)
            dev.append(gram)
        trace = dev[0].diagonal().sum() + dev[1].diagonal().sum() + 2 * z1.size(1)
        inv = trace - 2.0 * torch.linalg.vecdot(z1.flatten(), z2.flatten())
        dec = dev[0].pow(2).sum() + dev[1].pow(2).sum()
        ctx.save_for_backward(z1, z2, *dev)
        ctx.lam = lam
        ctx.mark_non_differentiable(inv, dec)
        return 0.5 * inv + lam * dec, inv, dec

    @staticmethod
    def backward(ctx, grad: Tensor, _inv: Tensor, _dec: Tensor):
        z1, z2, dev1, dev2 = ctx.saved_tensors
        grads = []
        for z, other, dev in ((z1, z2, dev1), (z2, z1, dev2)):
            m = dev.mul(4.0 * ctx.lam)
            m.diagonal().add_(1.0)
            grads.append(torch.addmm(other, z, m, beta=-1.0).mul_(grad))
        return grads[0], grads[1], None


def gram_deviation(z: Tensor) -> Tensor:
    r""":math:`\|\mathbf{Z}^\top\mathbf{Z} - \mathbf{I}\|_F^2` of ``z [N, D]`` (a scalar,
    differentiable); ``O(N D^2)`` time, ``O(D^2)`` memory."""
    gram = z.t() @ z
    return (gram - torch.eye(z.size(1), dtype=z.dtype, device=z.device)).pow(2).sum()


class CCASSG(TwoViewModel):
    r"""Canonical-correlation self-supervised graph learning (Zhang et al., NeurIPS 2021).

    A shared encoder embeds two augmented views, :math:`\mathbf{H}^{(k)} \in
    \mathbb{R}^{N \times D}`; their columns are standardised and scaled by
    :math:`1/\sqrt{N}`, :math:`\tilde{\mathbf{Z}}^{(k)}_{:,d} = (\mathbf{H}^{(k)}_{:,d} -
    \mu_d) / (\sigma_d \sqrt{N})`, so that
    :math:`\tilde{\mathbf{Z}}^{(k)\top}\tilde{\mathbf{Z}}^{(k)}` is the view's correlation
    matrix (times :math:`(N-1)/N`, see below), and

    .. math::
        \mathcal{L} = \underbrace{\|\tilde{\mathbf{Z}}^{(1)} -
        \tilde{\mathbf{Z}}^{(2)}\|_F^2}_{\text{inv}} + \lambda\,\underbrace{\bigl(
        \|\tilde{\mathbf{Z}}^{(1)\top}\tilde{\mathbf{Z}}^{(1)} - \mathbf{I}\|_F^2 +
        \|\tilde{\mathbf{Z}}^{(2)\top}\tilde{\mathbf{Z}}^{(2)} - \mathbf{I}\|_F^2\bigr)}_{\text{dec}}.

    Weighting: the total minimised is :math:`\tfrac{1}{2}\,\text{inv} + \lambda\,\text{dec}
    = D - \operatorname{tr}(\tilde{\mathbf{Z}}^{(1)\top}\tilde{\mathbf{Z}}^{(2)}) +
    \lambda\,\text{dec}`, which is what the authors' code (and the published library)
    minimise, so that ``lam`` keeps the meaning of the published configurations
    (``lam=1e-3`` on Cora); it is the formula above with :math:`\lambda` doubled, halved.
    The logged ``inv`` component is the Frobenius term itself.

    Standardisation: :math:`\sigma_d` is the sample standard deviation (denominator
    :math:`N-1`) with no epsilon, as in the authors' code (``torch.std``) and the published
    library; so :math:`\operatorname{diag}(\tilde{\mathbf{Z}}^{(k)\top}
    \tilde{\mathbf{Z}}^{(k)}) = (N-1)/N` and ``dec`` holds the constant :math:`2D/N^2`
    (no gradient). Measured (``benchmarks/bench_contrastive_vs_published.py --trajectory``):
    an earlier version divided by the population deviation and added ``1e-8`` to the
    variances, about 1e-3 of the column variances of Cora's initial embeddings (column
    standard deviation ~0.003), which shrank every column; the published loss then differed
    by 0.23 beyond the constant at the first step. Now, from the same initial weights and
    views, the two losses differ by the constant :math:`D(N-1)/N` to within 1e-3 over the
    50 Cora epochs. (A variance of exactly 0, a constant column, is guarded by a 1e-20
    floor.)

    Cost ``O(N D^2)`` time (four
    ``N D^2`` products per step: the two Gram matrices and, with the analytic gradient
    :math:`z_1(\mathbf{I} + 4\lambda(\tilde{\mathbf{Z}}^{(1)\top}\tilde{\mathbf{Z}}^{(1)} -
    \mathbf{I})) - z_2`, one product per view in the backward pass), ``O(D^2)`` extra memory.

    Args:
        encoder: shared encoder, ``(x [N, F], edge_index [2, E]) -> [N, D]`` (e.g.
            :func:`~pyagc.encoders.create_tuned_gnn`).
        transform1, transform2: the two views (e.g. :class:`~pyagc.transforms.GSSLTransform`).
        lam: weight :math:`\lambda \ge 0` of the decorrelation term (default ``1e-3``).

    Outputs: :meth:`forward` gives ``(h1 [N, D], h2 [N, D])``; :meth:`loss` a
    :class:`~pyagc.models.LossOutput` with components ``inv`` and ``dec``;
    :meth:`loss_batch` the same on a batch's seed nodes (``N`` = number of seeds);
    :meth:`embed` the encoder on the clean graph, ``[N, D]``.

    Example::

        >>> encoder = create_tuned_gnn('gcn', 1433, 512, num_layers=2)
        >>> model = CCASSG(encoder, GSSLTransform(0.1, 0.4), GSSLTransform(0.1, 0.4), lam=1e-3)
        >>> model.loss(data.x, data.edge_index).total.backward()
    """

    def __init__(self, encoder: Module, transform1: Any, transform2: Any,
                 lam: float = 1e-3) -> None:
        super().__init__(encoder, transform1, transform2)
        self.lam = float(check_scalar(lam, "lam", (int, float), min_val=0.0))

    def objective(self, h1: Tensor, h2: Tensor, edge_index: Tensor = None) -> LossOutput:
        if h1.shape != h2.shape or h1.dim() != 2:
            raise ValueError(f"The two views' embeddings must both be [N, D], got "
                             f"{tuple(h1.shape)} and {tuple(h2.shape)}.")
        n = h1.size(0)
        if n < 2:
            raise ValueError("CCASSG needs at least 2 nodes per batch to standardise the "
                             "embedding columns.")
        scale = 1.0 / math.sqrt(n)
        z1 = standardize_columns(h1, eps=_VAR_FLOOR, scale=scale, unbiased=True)
        z2 = standardize_columns(h2, eps=_VAR_FLOOR, scale=scale, unbiased=True)
        total, inv, dec = _CCAObjective.apply(z1, z2, self.lam)
        return LossOutput(total, {"inv": inv, "dec": dec})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.encoder!r}, lam={self.lam})"
