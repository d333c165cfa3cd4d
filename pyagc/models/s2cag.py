"""S2CAG and M-S2CAG: spectral subspace clustering on normalised smoothed representations."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from pyagc.models.base import BaseModel
from pyagc.ops import (flip_signs, gram_r_factor, normalized_operator, polynomial_filter,
                       randomized_svd)
from pyagc.utils.validation import check_features, check_scalar


def normalized_smoothed_representation(x: Tensor, edge_index: Tensor, T: int, alpha: float,
                                       edge_weight: Optional[Tensor] = None) -> Tensor:
    r"""The NSR matrix :math:`\mathbf{Z} = \sum_{t=0}^{T} w_t\,\mathbf{S}^t\hat{\mathbf{X}}`,
    :math:`w_t = \alpha^t / \sum_{s=0}^{T}\alpha^s`.

    :math:`\mathbf{S} = \hat{\mathbf{D}}^{-1/2}\hat{\mathbf{A}}\hat{\mathbf{D}}^{-1/2}` (with
    self-loops) and :math:`\hat{\mathbf{X}}` holds the L2-normalised feature rows (zero rows
    stay zero), so that :math:`\mathbf{Z}\mathbf{Z}^\top` is a smoothed cosine affinity (this
    choice of row scaling and operator is measured in ``pyagc/configs/MS2CAG.yaml``).
    Shapes: ``x [N, F]`` -> ``[N, F]``.
    """
    x = check_features(x)
    norms = torch.linalg.vector_norm(x, dim=1)
    x_hat = x / torch.where(norms > 0, norms, torch.ones_like(norms)).unsqueeze(1)
    adj = normalized_operator(edge_index, x.size(0), x.size(1), T, edge_weight, True, r=0.5,
                              dtype=x.dtype, device=x.device)
    weights = [float(alpha) ** t for t in range(T + 1)]
    total = sum(weights)
    return polynomial_filter(adj, x_hat, [w / total for w in weights])


def snem_rounding(vectors: Tensor, n_iter: int = 100) -> Tensor:
    r"""Round a spectral embedding ``[N, k]`` to hard labels ``[N]`` (values in ``[0, k)``).

    Alternates between the scaled indicator :math:`\mathbf{Y}` (one-hot of the labels, each
    column divided by :math:`\sqrt{|C_j|}`) and the labels maximising
    :math:`\mathrm{tr}(\mathbf{Y}^\top\mathbf{V}\mathbf{V}^\top\mathbf{Y})` given the current
    :math:`\mathbf{R} = \mathbf{V}^\top\mathbf{Y}`: :math:`y_i = \arg\max_j
    (\mathbf{V}\mathbf{R})_{ij}`. Starts from :math:`\arg\max_j V_{ij}` and stops at a fixed
    point or after ``n_iter`` rounds. Deterministic; :math:`O(N k^2)` per round.
    """
    if not isinstance(vectors, Tensor) or vectors.dim() != 2:
        raise ValueError("vectors must be a 2-D tensor [num_nodes, k].")
    check_scalar(n_iter, "n_iter", int, min_val=0)
    n, k = vectors.shape
    labels = vectors.argmax(dim=1)
    for _ in range(n_iter):
        sizes = torch.bincount(labels, minlength=k).to(vectors.dtype)
        sums = torch.zeros(k, k, dtype=vectors.dtype, device=vectors.device)
        sums.index_add_(0, labels, vectors)                      # row j: sum of V_i in C_j
        rotation = (sums / sizes.clamp_min(1).sqrt().unsqueeze(1)).T   # V^T Y, [k, k]
        new = (vectors @ rotation).argmax(dim=1)
        if torch.equal(new, labels):
            break
        labels = new
    return labels


class _SNEMRounded(BaseModel):
    """A spectral embedding rounded to labels by :func:`snem_rounding` (``forward``, and
    ``cluster.method: snem`` in the runner) or clustered by KMeans."""

    family = "non-parametric"
    embedding_depends_on_k = True
    cluster_methods = ("snem",)
    snem_iterations: int

    @torch.no_grad()
    def forward(self, x: Tensor, edge_index: Tensor,
                edge_weight: Optional[Tensor] = None) -> Tensor:
        """Hard cluster labels ``[N]`` from SNEM rounding of :meth:`embed`."""
        return snem_rounding(self.embed(x, edge_index, edge_weight), self.snem_iterations)

    def round_embedding(self, embedding: Tensor, method: str) -> Tensor:
        if method == "snem":
            return snem_rounding(embedding, self.snem_iterations)
        return super().round_embedding(embedding, method)


class S2CAG(_SNEMRounded):
    r"""Spectral subspace clustering of smoothed features (Lin et al., KDD 2025).

    S²CAG, from `"Spectral Subspace Clustering for Attributed Graphs"
    <https://arxiv.org/abs/2411.11074>`_ (Lin, Yang, Zheng & Ke, KDD 2025).

    The self-expressive problem :math:`\min_S \|\mathbf{Z}-S\mathbf{Z}\|_F^2 + \|S\|_* +
    \|S^\top S - I\|_F^2` on the normalised smoothed representation :math:`\mathbf{Z}`
    (:func:`normalized_smoothed_representation`) is solved by the leading left singular
    vectors of :math:`\mathbf{Z}`; S²CAG keeps singular vectors 2..k+1 (the first one carries
    the degree profile of the affinity graph :math:`\mathbf{Z}\mathbf{Z}^\top`), computed by a
    randomized SVD with ``tau`` power iterations. :meth:`embed` returns them ``[N, k]``;
    :meth:`forward` rounds them to labels with :func:`snem_rounding`.
    Cost :math:`O(T E F + \tau N F (k + p))`; no :math:`N \times N` matrix.

    Args:
        n_clusters: number of clusters ``k``.
        T: propagation order.
        alpha: decay of the hop weights :math:`w_t \propto \alpha^t`.
        tau: power iterations of the randomized SVD.
        oversampling: extra sketch columns ``p`` of the randomized SVD.
        seed: seed of the randomized SVD (keyword-only).
        snem_iterations: rounds of :func:`snem_rounding` in :meth:`forward` (keyword-only).
    """

    def __init__(self, n_clusters: int, T: int = 10, alpha: float = 0.9, tau: int = 7,
                 oversampling: int = 10, *, seed: int = 0, snem_iterations: int = 100) -> None:
        super().__init__()
        self.n_clusters = check_scalar(n_clusters, "n_clusters", int, min_val=1)
        self.T = check_scalar(T, "T", int, min_val=0)
        self.alpha = float(check_scalar(alpha, "alpha", (int, float), min_val=0,
                                         include_boundaries="neither"))
        self.tau = check_scalar(tau, "tau", int, min_val=0)
        self.oversampling = check_scalar(oversampling, "oversampling", int, min_val=0)
        self.seed = int(seed)
        self.snem_iterations = check_scalar(snem_iterations, "snem_iterations", int, min_val=0)

    @torch.no_grad()
    def embed(self, x: Tensor, edge_index: Tensor,
              edge_weight: Optional[Tensor] = None) -> Tensor:
        """Spectral embedding ``[N, n_clusters]`` (left singular vectors 2..k+1 of the NSR)."""
        z = normalized_smoothed_representation(x, edge_index, self.T, self.alpha, edge_weight)
        if self.n_clusters + 1 > min(z.shape):
            raise ValueError(f"n_clusters + 1 = {self.n_clusters + 1} exceeds min(num_nodes, "
                             f"num_features) = {min(z.shape)}.")
        u = randomized_svd(z, self.n_clusters + 1, n_oversamples=self.oversampling,
                           n_iter=self.tau, seed=self.seed)[0]
        return u[:, 1:].contiguous()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n_clusters={self.n_clusters}, T={self.T}, "
                f"alpha={self.alpha}, tau={self.tau})")


class MS2CAG(_SNEMRounded):
    r"""Modularity-aware S2CAG (Lin et al., KDD 2025).

    M-S²CAG, the modularity-maximising variant of S²CAG.

    On the affinity graph :math:`\mathbf{W} = \mathbf{Z}'\mathbf{Z}'^\top` of the normalised
    smoothed representation (rows re-weighted by :math:`\sqrt{\max(\mathbf{z}_i^\top
    \mathbf{1}, 0)}`), take the ``k`` leading eigenvectors of the modularity matrix

    .. math::
        \mathbf{B} = \mathbf{W} - \gamma\,\frac{\mathbf{w}\mathbf{w}^\top}{\mathbf{1}^\top
        \mathbf{w}}, \qquad \mathbf{w} = \mathbf{W}\mathbf{1} =
        \mathbf{Z}'(\mathbf{Z}'^\top\mathbf{1}),

    by ``tau`` rounds of orthogonal (subspace) iteration from a seeded Gaussian start plus a
    final Rayleigh-Ritz step. :math:`\mathbf{B}` is never formed: since
    :math:`\mathbf{w} = \mathbf{Z}'\mathbf{s}` (:math:`\mathbf{s} = \mathbf{Z}'^\top\mathbf{1}`),
    :math:`\mathbf{B} = \mathbf{Z}'(\mathbf{I} - \gamma\mathbf{s}\mathbf{s}^\top/
    \mathbf{s}^\top\mathbf{s})\mathbf{Z}'^\top`, and after one thin QR of :math:`\mathbf{Z}'`
    the iteration runs on an ``F x F`` matrix (identical subspaces). For ``N >= 8 F`` the QR's
    ``R`` comes from the float64 Gram matrix (:func:`~pyagc.ops.gram_r_factor`, half the
    work of a Householder QR) and ``Q`` is applied as :math:`\mathbf{Z}'\mathbf{R}^{-1}`;
    the Householder QR remains for ill-conditioned inputs. Cost
    :math:`O(T E F + N F^2 + \tau F^2 k)`. The row re-weighting assumes non-negative features
    (bag-of-words, TF-IDF); with signed features rows of negative sum are zeroed.
    :meth:`embed` returns the eigenvectors ``[N, k]``; :meth:`forward` rounds them with
    :func:`snem_rounding`.

    Args:
        n_clusters: number of clusters ``k``.
        T: propagation order.
        alpha: decay of the hop weights :math:`w_t \propto \alpha^t` (values above 1 favour
            far hops).
        gamma: resolution of the null-model term.
        tau: orthogonal-iteration rounds.
        seed: seed of the starting block (keyword-only).
        snem_iterations: rounds of :func:`snem_rounding` in :meth:`forward` (keyword-only).
    """

    def __init__(self, n_clusters: int, T: int = 10, alpha: float = 0.9, gamma: float = 0.9,
                 tau: int = 50, *, seed: int = 0, snem_iterations: int = 100) -> None:
        super().__init__()
        self.n_clusters = check_scalar(n_clusters, "n_clusters", int, min_val=1)
        self.T = check_scalar(T, "T", int, min_val=0)
        self.alpha = float(check_scalar(alpha, "alpha", (int, float), min_val=0,
                                         include_boundaries="neither"))
        self.gamma = float(check_scalar(gamma, "gamma", (int, float), min_val=0))
        self.tau = check_scalar(tau, "tau", int, min_val=1)
        self.seed = int(seed)
        self.snem_iterations = check_scalar(snem_iterations, "snem_iterations", int, min_val=0)

    @torch.no_grad()
    def embed(self, x: Tensor, edge_index: Tensor,
              edge_weight: Optional[Tensor] = None) -> Tensor:
        """Leading modularity eigenvectors ``[N, n_clusters]``."""
        z = normalized_smoothed_representation(x, edge_index, self.T, self.alpha, edge_weight)
        n = z.size(0)
        if self.n_clusters > n:
            raise ValueError(f"n_clusters={self.n_clusters} exceeds the number of nodes {n}.")
        z = z * (z.sum(dim=1).clamp_min(0).sqrt().unsqueeze(1))
        col_sum = z.sum(dim=0)
        volume = float(col_sum @ col_sum)                    # 1^T W 1
        coef = self.gamma / volume if volume > 0 else 0.0
        # w = Z s with s = Z^T 1 lies in range(Z), so B = Z (I - coef s s^T) Z^T. After one QR
        # Z = Q_z R, orthogonal iteration on B is the same iteration on the small matrix
        # C = R (I - coef s s^T) R^T acting on Q_z^T Q: same subspaces, O(d^2 k) per round.
        # With d >= N that small matrix would be N x N, so B is applied matrix-free instead:
        # B Q = Z (Z^T Q) - coef (Z s)((Z s)^T Q), O(N d k) per round, no N x N matrix.
        gen = torch.Generator(device=z.device).manual_seed(self.seed)
        start = torch.randn(n, self.n_clusters, generator=gen, device=z.device, dtype=z.dtype)
        r_inverse = basis = None
        if z.size(1) < n:
            # R from the float64 Gram matrix (half a Householder QR's work, which dominated
            # after the propagation at scale); Q_z = Z R^{-1} is applied, never formed. An
            # ill-conditioned or rank-deficient Z, or one not tall enough for the F^3 of the
            # Gram eigenvalues to be small (Cora: N < 2 F), takes the Householder QR.
            r_factor = gram_r_factor(z) if n >= 8 * z.size(1) else None
            if r_factor is None:
                basis, r_factor = torch.linalg.qr(z, mode="reduced")
                q = basis.T @ start
            else:
                def r_inverse(block: Tensor) -> Tensor:          # R^{-1} block, float64
                    return torch.linalg.solve_triangular(r_factor, block.double(), upper=True)
                q = torch.linalg.solve_triangular(r_factor.T, (z.T @ start).double(),
                                                  upper=False).to(z.dtype)   # Q_z^T start
            rs = r_factor @ col_sum.to(r_factor.dtype)
            small_b = r_factor @ r_factor.T - coef * torch.outer(rs, rs)
            small_b = ((small_b + small_b.T) / 2).to(z.dtype)

            def apply(block: Tensor) -> Tensor:
                return small_b @ block
        else:
            zs = z @ col_sum
            q = start

            def apply(block: Tensor) -> Tensor:
                return z @ (z.T @ block) - coef * torch.outer(zs, zs @ block)
        if self.n_clusters > q.size(0):
            raise ValueError(f"n_clusters={self.n_clusters} exceeds the rank bound "
                             f"min(num_nodes, num_features) = {q.size(0)}.")
        q = torch.linalg.qr(q, mode="reduced")[0]
        for _ in range(self.tau):
            q = torch.linalg.qr(apply(q), mode="reduced")[0]
        small = q.T @ apply(q)
        evals, evecs = torch.linalg.eigh((small + small.T) / 2)
        q = q @ evecs[:, torch.argsort(evals, descending=True)]
        if basis is not None:
            q = basis @ q
        elif r_inverse is not None:
            coeffs = r_inverse(q)                                # Q_z q = Z (R^{-1} q)
            q = torch.cat([(block.double() @ coeffs).to(z.dtype)
                           for block in z.split(65536)])
        return flip_signs(q)[0]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n_clusters={self.n_clusters}, T={self.T}, "
                f"alpha={self.alpha}, gamma={self.gamma}, tau={self.tau})")
