"""SAGSC: scalable attributed-graph subspace clustering (implicit spectral clustering)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from pyagc.models.base import BaseModel
from pyagc.ops import flip_signs, normalized_operator, propagate, randomized_svd
from pyagc.utils.validation import check_features, check_scalar


def quadratic_feature_map(u: Tensor, bias: float, row_scale: Optional[Tensor] = None,
                          out: Optional[Tensor] = None) -> Tensor:
    r"""Explicit feature map :math:`\Phi` of the kernel :math:`(\mathbf{u}^\top\mathbf{v} + c)^2`.

    :math:`\Phi(\mathbf{u}) = [\,c,\ \sqrt{2c}\,u_a,\ u_a^2,\ \sqrt{2}\,u_a u_b\ (a<b)\,]`, so
    :math:`\Phi(\mathbf{u})^\top\Phi(\mathbf{v}) = (\mathbf{u}^\top\mathbf{v} + c)^2`. With
    ``row_scale`` (``[N]``) row ``i`` is multiplied by ``row_scale[i]`` (folded into the
    products instead of a separate pass). Written into ``out`` when given.
    Shapes: ``u [N, k]`` -> ``[N, 1 + k + k(k+1)/2]``.
    """
    n, k = u.shape
    m = 1 + k + k * (k + 1) // 2
    if out is None:
        out = torch.empty(n, m, dtype=u.dtype, device=u.device)
    scale = torch.ones(n, 1, dtype=u.dtype, device=u.device) if row_scale is None \
        else row_scale.to(u.dtype).unsqueeze(1)
    out[:, :1] = bias * scale
    torch.mul(u, scale * (2.0 * bias) ** 0.5, out=out[:, 1:1 + k])
    # A square root of the scale on each factor of u_a u_b; column groups are written in place
    # to avoid the two [N, m] gathers of a triu-index formulation.
    half = u * scale.sqrt()
    offset = 1 + k
    for a in range(k):
        width = k - a
        block = out[:, offset:offset + width]
        torch.mul(half[:, a:], half[:, a:a + 1], out=block)
        block[:, 1:] *= 2.0 ** 0.5
        offset += width
    return out


class SAGSC(BaseModel):
    r"""Scalable attributed-graph subspace clustering (Fettal et al., AAAI 2023).

    Scalable Attributed-Graph Subspace Clustering, from `"Scalable Attributed-Graph Subspace
    Clustering" <https://doi.org/10.1609/aaai.v37i6.25906>`_ (Fettal, Labiod & Nadif, AAAI 2023).

    1. Smoothing: :math:`\mathbf{H} = \mathbf{S}^p\mathbf{X}`, then column-centred, with
       :math:`\mathbf{S} = \hat{\mathbf{D}}^{-1}\hat{\mathbf{A}}` (``normalization='rw'``,
       default) or :math:`\hat{\mathbf{D}}^{-1/2}\hat{\mathbf{A}}\hat{\mathbf{D}}^{-1/2}`
       (``'sym'``, the formula of the published pyagc docs); the paper's own code smooths
       with a row-stochastic operator (the two are compared in ``pyagc/configs/SAGSC.yaml``).
    2. Self-expression with a low-rank coefficient matrix :math:`\mathbf{C} = \mathbf{U}
       \mathbf{U}^\top`, :math:`\mathbf{U}` the top-``k`` left singular vectors of
       :math:`\mathbf{H}` (randomized SVD).
    3. Non-negative affinity :math:`\mathbf{M} = \mathbf{Q}\mathbf{Q}^\top`,
       :math:`\mathbf{Q} = \Phi(\mathbf{U})` the quadratic-kernel map
       (:math:`M_{ij} = (\mathbf{u}_i^\top\mathbf{u}_j + c)^2`, ``c = bias``).
    4. Implicit normalised spectral clustering: degrees
       :math:`d_i = \mathbf{u}_i^\top(\mathbf{U}^\top\mathbf{U})\mathbf{u}_i +
       2c\,\mathbf{u}_i^\top\mathbf{U}^\top\mathbf{1} + N c^2` (the row sums of
       :math:`\mathbf{M}`, from the kernel), :math:`\tilde{\mathbf{Q}} = \mathbf{D}^{-1/2}
       \mathbf{Q}`, and the embedding is the left singular vectors 2..k+1 of
       :math:`\tilde{\mathbf{Q}}`.

    The :math:`N \times N` matrices :math:`\mathbf{C}` and :math:`\mathbf{M}` are never formed:
    step 4 eigen-decomposes the small Gram matrix :math:`\tilde{\mathbf{Q}}^\top\tilde{\mathbf{Q}}`
    (``m x m``, ``m = 1 + k + k(k+1)/2``) accumulated over row blocks, so memory is
    :math:`O(N k + \text{chunk}\cdot m)` and time :math:`O(p E F + N m^2)`.

    Args:
        p: propagation order.
        k: number of clusters (= subspace rank and embedding size).
        bias: kernel offset :math:`c` (default :math:`2^{-1/2}`).
        normalization: ``'rw'`` or ``'sym'`` smoothing operator (keyword-only).
        seed: seed of the randomized SVD (keyword-only; deterministic by default).
        chunk_size: rows per block of :math:`\Phi(\mathbf{U})` (memory knob).

    Shapes:
        input ``x [N, F]``, ``edge_index [2, E]``, ``edge_weight [E]`` (optional);
        output ``[N, k]``.
    """

    family = "non-parametric"
    embedding_depends_on_k = True

    @classmethod
    def from_config(cls, cfg, data, n_clusters, *, seed=None) -> "SAGSC":
        """As :meth:`BaseModel.from_config`, with the number of clusters as ``k``."""
        return super().from_config(dict(cfg, k=int(n_clusters)), data, n_clusters, seed=seed)

    def __init__(self, p: int, k: int, bias: float = 2 ** -0.5, *, normalization: str = "rw",
                 seed: int = 0, chunk_size: int = 65536) -> None:
        super().__init__()
        if normalization not in ("rw", "sym"):
            raise ValueError(f"normalization must be 'rw' or 'sym', got {normalization!r}.")
        self.normalization = normalization
        check_scalar(p, "p", int, min_val=0)
        check_scalar(k, "k", int, min_val=1)
        check_scalar(bias, "bias", (int, float), min_val=0)
        check_scalar(chunk_size, "chunk_size", int, min_val=1)
        self.p, self.k, self.bias, self.seed, self.chunk_size = p, k, float(bias), int(seed), chunk_size

    @torch.no_grad()
    def embed(self, x: Tensor, edge_index: Tensor,
              edge_weight: Optional[Tensor] = None) -> Tensor:
        """The SAGSC spectral embedding ``[N, k]`` (cluster it with KMeans)."""
        x = check_features(x)
        n, f = x.shape
        if self.k > min(n, f):
            raise ValueError(f"k={self.k} exceeds min(num_nodes, num_features) = {min(n, f)}; "
                             "the subspace rank cannot exceed the feature matrix's rank.")
        r = 0.0 if self.normalization == "rw" else 0.5
        adj = normalized_operator(edge_index, n, f, self.p, edge_weight, True, r=r,
                                  dtype=x.dtype, device=x.device)
        h = propagate(adj, x, self.p)
        h = h - h.mean(dim=0, keepdim=True)
        u = randomized_svd(h, self.k, n_oversamples=10, n_iter=4, seed=self.seed)[0]
        del h, adj

        c = self.bias
        gram_u = u.T @ u
        col_sum = u.sum(dim=0)
        deg = torch.einsum("ia,ab,ib->i", u, gram_u, u) + 2.0 * c * (u @ col_sum) + n * c * c
        inv_sqrt_deg = deg.clamp_min(torch.finfo(deg.dtype).tiny).rsqrt()

        # Gram of Q~ = D^{-1/2} Phi(U), accumulated block by block in float64.
        m = 1 + self.k + self.k * (self.k + 1) // 2
        gram = torch.zeros(m, m, dtype=torch.float64, device=x.device)
        buffer = torch.empty(min(n, self.chunk_size), m, dtype=x.dtype, device=x.device)
        for start in range(0, n, self.chunk_size):
            stop = min(n, start + self.chunk_size)
            block = quadratic_feature_map(u[start:stop], c, inv_sqrt_deg[start:stop],
                                          out=buffer[:stop - start])
            gram += (block.T @ block).double()
        evals, evecs = torch.linalg.eigh(gram)
        order = torch.argsort(evals, descending=True)[1:self.k + 1]
        sigma = evals[order].clamp_min(1e-30).sqrt()
        proj = (evecs[:, order] / sigma).to(x.dtype)
        out = torch.empty(n, self.k, dtype=x.dtype, device=x.device)
        for start in range(0, n, self.chunk_size):
            stop = min(n, start + self.chunk_size)
            block = quadratic_feature_map(u[start:stop], c, inv_sqrt_deg[start:stop],
                                          out=buffer[:stop - start])
            torch.mm(block, proj, out=out[start:stop])
        return flip_signs(out)[0]

    def forward(self, x: Tensor, edge_index: Tensor,
                edge_weight: Optional[Tensor] = None) -> Tensor:
        return self.embed(x, edge_index, edge_weight)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p}, k={self.k}, bias={self.bias:.4g})"
