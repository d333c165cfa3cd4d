"""KMeans as a (non-trainable) cluster head for decoupled methods."""
from __future__ import annotations

import numbers
from typing import Optional, Union

import torch
from torch import Tensor

from pyagc.clusters.base import BaseClusterHead
from pyagc.clusters.kmeans import TorchKMeans, check_kmeans_params, resolve_sample_size
from pyagc.utils.validation import check_features, check_scalar


class KMeansClusterHead(BaseClusterHead):
    """Post-hoc KMeans on embeddings ``z [N, d]``.

    Args:
        n_clusters: number of clusters.
        backend: ``'torch'`` (:class:`TorchKMeans`, on ``z``'s device) or ``'sklearn'``
            (:class:`sklearn.cluster.KMeans` on the CPU, float64 as scikit-learn prefers).
        n_init: restarts; the lowest-inertia run is kept.
        max_iter: Lloyd iterations per restart.
        random_state: seed; the same seed gives the same labels.
        verbose: show a progress bar over the restarts (torch backend).
        sample_size: torch backend: above this many points the restarts run on a sample and
            Lloyd refines on all points (``'auto'``, an integer or ``None``; see
            :class:`TorchKMeans`). scikit-learn always restarts on all points.
        refine_tol: torch backend, sampled restarts only: the refinement on all points stops
            when a pass lowers the inertia by less than this fraction (see
            :class:`TorchKMeans`).
        distributed: torch backend: ``z`` is this rank's block of rows and the KMeans runs
            over the blocks of all ranks of the ``torch.distributed`` process group (see
            :class:`TorchKMeans`); the labels returned are this block's.

    Raises:
        ScalarTypeError: ``n_clusters``, ``n_init``, ``max_iter`` or ``random_state`` is not an
            integer (``n_clusters=2.5`` is an error, not 2 clusters).
        ValueError: an argument out of range, an unknown ``backend``; in :meth:`fit_predict`,
            ``z`` that is not a finite numeric ``[N, d]`` matrix with ``N >= n_clusters``.
    """

    def __init__(self, n_clusters: int, backend: str = "torch", n_init: int = 10,
                 max_iter: int = 300, random_state: Optional[int] = None,
                 verbose: bool = False, sample_size: Union[int, str, None] = "auto",
                 refine_tol: float = 1e-4, distributed: bool = False) -> None:
        super().__init__()
        if backend not in ("torch", "sklearn"):
            raise ValueError(f"backend must be 'torch' or 'sklearn', got {backend!r}.")
        check_scalar(distributed, "distributed", bool)
        if distributed and backend != "torch":
            raise ValueError("distributed KMeans runs on the torch backend only; set "
                             "cluster.backend to 'torch'.")
        self.distributed = distributed
        self.n_clusters, self.n_init, self.max_iter = check_kmeans_params(
            n_clusters, n_init, max_iter, random_state)
        self.backend = backend
        self.random_state = random_state
        self.verbose = bool(verbose)
        resolve_sample_size(sample_size, self.n_clusters)  # checked here, used in fit_predict
        self.sample_size = sample_size
        check_scalar(refine_tol, "refine_tol", numbers.Real, min_val=0, max_val=1)
        self.refine_tol = float(refine_tol)
        self.cluster_centers_: Optional[Tensor] = None
        self.inertia_: Optional[float] = None
        self._kmeans = None

    def fit_predict(self, z: Tensor) -> Tensor:
        """Fit on ``z`` and return hard labels ``[N]`` (long, on ``z``'s device)."""
        if self.backend == "torch":
            km = TorchKMeans(n_clusters=self.n_clusters, n_init=self.n_init,
                             max_iter=self.max_iter, random_state=self.random_state,
                             verbose=self.verbose, sample_size=self.sample_size,
                             refine_tol=self.refine_tol, distributed=self.distributed)
            labels = km.fit_predict(z)
            self.cluster_centers_, self.inertia_ = km.cluster_centers_, km.inertia_
        else:
            from sklearn.cluster import KMeans
            z = check_features(z.detach() if isinstance(z, Tensor) else z, name="z")
            if z.size(0) < self.n_clusters:
                raise ValueError(f"KMeans expects [num_points >= n_clusters, dim] input, got "
                                 f"{list(z.shape)} with n_clusters={self.n_clusters}.")
            km = KMeans(self.n_clusters, n_init=self.n_init, max_iter=self.max_iter,
                        random_state=self.random_state)
            labels = torch.as_tensor(km.fit_predict(z.detach().cpu().numpy()), device=z.device)
            self.cluster_centers_ = torch.as_tensor(km.cluster_centers_, dtype=z.dtype,
                                                    device=z.device)
            self.inertia_ = float(km.inertia_)
        self._kmeans = km
        return labels.long()

    def cluster(self, z: Tensor, soft: bool = False) -> Tensor:
        """Labels from the fitted centres (fitting first if needed); ``soft=True`` gives
        Student-t memberships ``[N, k]``."""
        if self.cluster_centers_ is None:
            labels = self.fit_predict(z)
            if not soft:
                return labels
        km = TorchKMeans(n_clusters=self.n_clusters, init=self.cluster_centers_)
        km.cluster_centers_ = self.cluster_centers_
        return km.predict(z, soft=soft)

    def forward(self, z: Tensor) -> Tensor:
        return self.fit_predict(z)
