"""KMeans in PyTorch: runs where the embeddings live (CPU or GPU), memory O(chunk * k)."""
from __future__ import annotations

import math
import numbers
from typing import Optional, Tuple, Union

import torch
from torch import Tensor
from tqdm.auto import tqdm

from pyagc.utils import distributed as dist_utils
from pyagc.utils.validation import check_features, check_scalar


def check_kmeans_params(n_clusters: int, n_init: int, max_iter: int,
                        random_state: Optional[int]) -> Tuple[int, int, int]:
    """The checks of the KMeans arguments shared by :class:`TorchKMeans` and
    :class:`~pyagc.clusters.KMeansClusterHead`: integers ``>= 1`` (``2.5`` clusters is an error,
    not 2) and a seed that is ``None`` or an integer ``>= 0``; returns the three as ``int``."""
    check_scalar(n_clusters, "n_clusters", numbers.Integral, min_val=1)
    check_scalar(n_init, "n_init", numbers.Integral, min_val=1)
    check_scalar(max_iter, "max_iter", numbers.Integral, min_val=1)
    if random_state is not None:
        check_scalar(random_state, "random_state", numbers.Integral, min_val=0)
    return int(n_clusters), int(n_init), int(max_iter)


#: ``sample_size='auto'``: the restarts see ``max(SAMPLE_PER_CLUSTER * k, MIN_SAMPLE)`` points.
SAMPLE_PER_CLUSTER = 1024
MIN_SAMPLE = 50_000


def resolve_sample_size(sample_size: Union[int, str, None], n_clusters: int) -> Optional[int]:
    """The number of points the restarts run on (``None``: all of them)."""
    if sample_size is None:
        return None
    if isinstance(sample_size, str):
        if sample_size != "auto":
            raise ValueError(f"sample_size must be 'auto', None or an integer, got "
                             f"{sample_size!r}.")
        return max(SAMPLE_PER_CLUSTER * n_clusters, MIN_SAMPLE)
    check_scalar(sample_size, "sample_size", numbers.Integral, min_val=n_clusters)
    return int(sample_size)


def _chunk_rows(n_clusters: int, budget: int = 1 << 22) -> int:
    # About `budget` distance entries per chunk keeps the temporary [chunk, k] block small.
    return max(1024, budget // max(n_clusters, 1))


def _assign(X: Tensor, centers: Tensor, x_sq: Tensor, chunk: int) -> Tuple[Tensor, Tensor]:
    """Nearest centre and the squared distance to it, for every row, in row chunks."""
    c_sq = (centers * centers).sum(1)
    labels = torch.empty(X.size(0), dtype=torch.long, device=X.device)
    dists = torch.empty(X.size(0), dtype=X.dtype, device=X.device)
    for start in range(0, X.size(0), chunk):
        block = X[start:start + chunk]
        d = torch.addmm(c_sq.unsqueeze(0), block, centers.t(), alpha=-2.0)
        d_min, idx = d.min(dim=1)
        labels[start:start + chunk] = idx
        dists[start:start + chunk] = (d_min + x_sq[start:start + chunk]).clamp_(min=0)
    return labels, dists


#: Up to this many rows, :meth:`_Shard.rows` sums zero-padded blocks (one collective); above,
#: each rank sends only the rows it holds.
_FEW_ROWS = 1024


class _Shard:
    """The rows of ``X`` this process holds, within all rows of the problem, and the sums over
    all of them. In one process it holds every row and each step is the plain tensor
    operation; with ``distributed`` each rank holds a contiguous block (in rank order) and the
    sums are all-reduced, so every rank sees the same totals, candidates and centres."""

    def __init__(self, X: Tensor, distributed: bool) -> None:
        self.distributed = distributed
        self.local_n = X.size(0)
        if distributed:
            sizes = dist_utils.gather_ints(X.size(0), what="KMeans row counts")
            rank = dist_utils.get_rank()
            self.start, self.n = sum(sizes[:rank]), sum(sizes)
        else:
            self.start, self.n = 0, X.size(0)

    def sum(self, t: Tensor) -> Tensor:
        return dist_utils.all_reduce(t, what="KMeans sums") if self.distributed else t

    def any(self, flag: bool) -> bool:
        if not self.distributed:
            return flag
        return bool(dist_utils.all_reduce(torch.tensor([int(flag)]), op="max",
                                          what="KMeans convergence"))

    def rows(self, X: Tensor, idx: Tensor) -> Tensor:
        """The rows with global indices ``idx`` (on every rank)."""
        idx = idx.to(X.device)
        if not self.distributed:
            return X[idx]
        local = idx - self.start
        mine = (local >= 0) & (local < self.local_n)
        if idx.numel() <= _FEW_ROWS:
            out = X.new_zeros(idx.numel(), X.size(1))
            out[mine] = X[local[mine]]
            return self.sum(out)  # exact: one rank holds each row, the others add zeros
        # Many rows (the restarts' sample): each rank sends only the rows it holds.
        where = dist_utils.all_gather_rows(torch.nonzero(mine).flatten().cpu(),
                                           what="KMeans sample")
        rows = dist_utils.all_gather_rows(X[local[mine]], what="KMeans sample")
        out = X.new_empty(idx.numel(), X.size(1))
        out[where.to(X.device)] = rows
        return out

    def total(self, values: Tensor) -> float:
        if not self.distributed:
            return float(values.sum())
        return float(self.sum(values.double().sum().view(1)))

    def searchsorted(self, values: Tensor, u: Tensor) -> Tensor:
        """``searchsorted(cumsum(values over all rows), u)``: the global row of each draw."""
        cum = torch.cumsum(values.double(), 0).cpu()
        if not self.distributed:
            return torch.searchsorted(cum, u)
        totals = dist_utils.all_gather_rows(cum[-1:] if cum.numel() else
                                            torch.zeros(1, dtype=torch.float64),
                                            what="KMeans seeding")
        cum += float(totals[:dist_utils.get_rank()].sum())
        # The global cumulative sum is the ranks' in rank order: its count of entries < u is
        # the sum of the ranks' counts.
        return self.sum(torch.searchsorted(cum, u))

    def farthest(self, X: Tensor, dists: Tensor, m: int) -> Tensor:
        """The ``m`` rows with the largest ``dists`` over all rows."""
        if not self.distributed:
            return X[torch.topk(dists, m).indices]
        top = torch.topk(dists, min(m, dists.numel()))
        values = dist_utils.all_gather_rows(top.values.double().cpu(), what="KMeans re-seeding")
        index = dist_utils.all_gather_rows(top.indices.cpu() + self.start,
                                           what="KMeans re-seeding")
        return self.rows(X, index[torch.topk(values, m).indices])

    def mean_variance(self, X: Tensor) -> float:
        """Mean per-feature variance of all rows (float64 sums when distributed)."""
        if not self.distributed:
            return float(X.var(dim=0, unbiased=False).mean()) if X.size(0) > 1 else 0.0
        if self.n <= 1:
            return 0.0
        mean = self.sum(X.double().sum(0)) / self.n
        return float(self.sum(((X.double() - mean) ** 2).sum(0)).mean() / self.n)


class TorchKMeans:
    r"""Lloyd's KMeans with greedy k-means++ seeding, in PyTorch.

    Minimises the inertia :math:`\sum_i \min_c \lVert x_i - \mu_c \rVert^2`. Seeding is the
    greedy k-means++ of Arthur & Vassilvitskii (2007) with :math:`2 + \lfloor \ln k \rfloor`
    candidates per step (as scikit-learn); the run stops when the squared centre shift falls
    below ``tol`` times the mean per-feature variance of ``X`` (scikit-learn's rule) or the
    labels stop changing. Clusters that become empty are re-seeded with the points farthest
    from their centres. The best of ``n_init`` runs (lowest inertia) is kept.

    **Large inputs.** Above ``sample_size`` points (``'auto'``: ``max(1024 k, 50000)``) the
    ``n_init`` seeded restarts run on a uniform sample of that many points, the lowest-inertia
    one is kept, and Lloyd then refines it on all points. The refinement also stops once a
    full pass lowers the inertia by less than ``refine_tol`` of its value: on overlapping
    clusters the centre shift can stay above ``tol`` for hundreds of passes while the inertia
    has long stopped moving (2.4M Products-like points: 300 passes, 850 s, for 0.4 % of
    inertia; ``refine_tol=1e-4`` stops after 8 passes, 0.2 % above that). The sampled restarts
    stop by the same rule: on weakly clustered wide embeddings they ran 93-229 passes each
    (300,000 x 256 synthetic points, k = 47: 26.8 CPU s, now 6.2 s, inertia 0.009 % higher;
    well-separated points: the same inertia; ``benchmarks/bench_kmeans.py --sizes 100000
    --features 256 --signal 0.1``: 4.25 CPU s against scikit-learn's 112.0, inertia ratio
    1.0008). So restarts cost
    ``n_init`` passes over the sample, not over ``N`` (the way FAISS trains on a few hundred
    points per centroid), and the refinement a few passes over ``N``. Inputs of at most
    ``sample_size`` points, and ``sample_size=None``, run every restart on all points, exactly
    as before. Measured against
    scikit-learn's ``KMeans(n_init=10)`` in ``benchmarks/bench_kmeans.py``.

    Distances are computed in row chunks so extra memory is O(chunk * k), never O(N * k) at
    once beyond the label and distance vectors. Works on whatever device ``X`` is on.

    **Several processes** (``distributed=True``, inside a ``torch.distributed`` process group,
    e.g. under ``torchrun``): each rank passes its own block of rows to :meth:`fit`, the
    blocks in rank order making up the data. Every rank draws the same random numbers, the
    k-means++ candidates are found in the global cumulative distance sum (each rank counts its
    entries below the draw, the counts are summed), and each Lloyd step all-reduces the
    per-cluster sums and counts, the inertia and the "labels changed" flag; the sampled
    restarts run on the gathered sample, split between the ranks, and the lowest-inertia one
    is broadcast. So every rank ends with the same centres, and they are the centres a single
    process finds on the concatenated rows with the same seed, up to the order of floating
    point sums (the totals are summed per rank, then over ranks), which can only change a
    decision taken at a near-tie (two candidates, a stopping threshold). ``labels_`` are then this rank's rows'
    labels and ``inertia_`` is the total over all ranks.

    Args:
        n_clusters: number of clusters ``k``.
        init: ``'k-means++'``, ``'random'`` (k distinct rows) or a ``[k, d]`` tensor of centres.
        n_init: number of seeded restarts (1 when ``init`` is a tensor).
        max_iter: maximum Lloyd iterations per run.
        tol: relative tolerance on the centre shift.
        random_state: seed for a reproducible result (same seed, same labels on CPU).
        metric: ``'euclidean'``, or ``'cosine'`` (rows are L2-normalised first).
        sample_size: points the restarts run on for large inputs: ``'auto'``, an integer
            ``>= n_clusters``, or ``None`` (always all points).
        refine_tol: the refinement on all points after sampled restarts stops when a pass
            lowers the inertia by less than this fraction (``0`` keeps only the ``tol`` and
            ``max_iter`` stops). Unused when the restarts run on all points.
        distributed: fit over the row blocks of all ranks of the current ``torch.distributed``
            process group (see above).

    Attributes (after :meth:`fit`): ``cluster_centers_ [k, d]``, ``labels_ [N]``,
    ``inertia_``, ``n_iter_``.

    Raises:
        ScalarTypeError: ``n_clusters``, ``n_init``, ``max_iter`` or ``random_state`` is not an
            integer, or ``tol`` not a number.
        ValueError: an argument out of range or unknown; in :meth:`fit`, ``X`` that is not a
            finite numeric ``[N, d]`` matrix with ``d >= 1`` and ``N >= n_clusters``.
        DistributedError: ``distributed=True`` without a process group, or a peer process
            that died during :meth:`fit`.
    """

    def __init__(self, metric: str = "euclidean", init: Union[str, Tensor] = "k-means++",
                 random_state: Optional[int] = None, n_clusters: int = 8, n_init: int = 10,
                 max_iter: int = 300, tol: float = 1e-4, distributed: bool = False,
                 verbose: bool = False, sample_size: Union[int, str, None] = "auto",
                 refine_tol: float = 1e-4) -> None:
        if metric not in ("euclidean", "cosine"):
            raise ValueError(f"metric must be 'euclidean' or 'cosine', got {metric!r}.")
        if isinstance(init, str) and init not in ("k-means++", "random"):
            raise ValueError(f"init must be 'k-means++', 'random' or a tensor, got {init!r}.")
        n_clusters, n_init, max_iter = check_kmeans_params(n_clusters, n_init, max_iter,
                                                           random_state)
        check_scalar(tol, "tol", numbers.Real, min_val=0)
        check_scalar(refine_tol, "refine_tol", numbers.Real, min_val=0, max_val=1)
        check_scalar(distributed, "distributed", bool)
        self.distributed = distributed
        self.metric = metric
        self.init = init
        self.random_state = random_state
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = float(tol)
        self.verbose = verbose
        self.sample_size = resolve_sample_size(sample_size, n_clusters)
        self.refine_tol = float(refine_tol)
        self.cluster_centers_: Optional[Tensor] = None

    # ------------------------------------------------------------------ public API
    def fit(self, X: Tensor) -> "TorchKMeans":
        X = self._check(X)
        if self.distributed and not dist_utils.is_distributed():
            raise dist_utils.DistributedError(
                "TorchKMeans(distributed=True) needs a torch.distributed process group: start "
                "the script with torchrun (and call pyagc.utils.distributed.init_distributed()), "
                "or use distributed=False.")
        shard = _Shard(X, self.distributed)
        if shard.n < self.n_clusters:
            raise ValueError(f"n_clusters={self.n_clusters} is larger than the number of points "
                             f"({shard.n}); lower n_clusters.")
        seed = self.random_state
        if seed is None:
            seed = torch.randint(2 ** 31 - 1, (1,))
            seed = int(dist_utils.broadcast(seed, what="KMeans seed") if self.distributed
                       else seed)
        gen = torch.Generator(device="cpu")
        gen.manual_seed(seed)
        x_sq = (X * X).sum(1)
        tol = self.tol * shard.mean_variance(X)
        chunk = _chunk_rows(self.n_clusters)
        n_init = 1 if isinstance(self.init, Tensor) else self.n_init
        sampled = self.sample_size is not None and shard.n > self.sample_size
        if sampled:
            rows = torch.randperm(shard.n, generator=gen)[:self.sample_size]
            X_fit = shard.rows(X, rows)   # the whole sample, on every rank
            fit_shard = _Shard(X_fit, False)
            x_sq_fit = shard.rows(x_sq.unsqueeze(1), rows).squeeze(1)
        else:
            X_fit, x_sq_fit, fit_shard = X, x_sq, shard
        seeds = [int(torch.randint(2 ** 31 - 1, (1,), generator=gen)) for _ in range(n_init)]
        # Sampled restarts on several ranks: each rank runs its share of the restarts on the
        # (gathered) sample, then all take the lowest-inertia one (the first on ties).
        split = sampled and self.distributed
        rank, world = dist_utils.get_rank(), dist_utils.get_world_size()
        runs = {}
        for i in tqdm(range(n_init), desc="KMeans restarts", disable=not self.verbose,
                      leave=False):
            if split and i % world != rank:
                continue
            centers = self._seed_centers(X_fit, x_sq_fit, seeds[i], chunk, fit_shard)
            # Sampled restarts stop, like the refinement, once a pass barely lowers the
            # inertia: on weakly clustered embeddings they otherwise run hundreds of passes
            # for differences far below the refinement's own.
            runs[i] = self._lloyd(X_fit, x_sq_fit, centers, tol, chunk, fit_shard,
                                  rel_inertia_tol=self.refine_tol if sampled else 0.0)
        if split:
            inertia = torch.zeros(n_init, dtype=torch.float64)
            for i, run in runs.items():
                inertia[i] = run[2]
            inertia = dist_utils.all_reduce(inertia, what="KMeans restarts")
            i_best = int(torch.argmin(inertia))  # the first of equal minima, as below
            centers = runs[i_best][0] if i_best in runs else torch.empty_like(X_fit[:self.n_clusters])
            best = (dist_utils.broadcast(centers, src=i_best % world, what="KMeans restarts"),)
        else:
            best = None
            for i in range(n_init):
                if best is None or runs[i][2] < best[2]:
                    best = runs[i]
        if sampled:
            best = self._lloyd(X, x_sq, best[0], tol, chunk, shard,
                               rel_inertia_tol=self.refine_tol)
        self.cluster_centers_, self.labels_, self.inertia_, self.n_iter_ = best
        return self

    def fit_predict(self, X: Tensor) -> Tensor:
        """Fit and return the hard label of every row, ``[N]`` long."""
        return self.fit(X).labels_

    def predict(self, X: Tensor, soft: bool = False) -> Tensor:
        r"""Nearest-centre labels ``[N]``; with ``soft=True`` the Student-t memberships
        :math:`q_{ic} \propto (1 + \lVert x_i - \mu_c \rVert^2)^{-1}` ``[N, k]`` (rows sum to 1)."""
        if self.cluster_centers_ is None:
            raise RuntimeError("Call fit() before predict().")
        X = self._check(X, fitted=True)
        centers = self.cluster_centers_.to(X.device, X.dtype)
        if not soft:
            return _assign(X, centers, (X * X).sum(1), _chunk_rows(self.n_clusters))[0]
        q = 1.0 / (1.0 + torch.cdist(X, centers).pow(2))
        return q / q.sum(dim=1, keepdim=True)

    def initialize(self, X: Tensor, random_state: int) -> Tensor:
        """The initial centres ``[k, d]`` the given seed produces."""
        X = self._check(X)
        return self._seed_centers(X, (X * X).sum(1), int(random_state),
                                  _chunk_rows(self.n_clusters), _Shard(X, self.distributed))

    # ------------------------------------------------------------------ internals
    def _check(self, X: Tensor, fitted: bool = False) -> Tensor:
        X = check_features(X.detach() if isinstance(X, Tensor) else X, name="X")
        if not fitted and not self.distributed and X.size(0) < self.n_clusters:
            raise ValueError(f"n_clusters={self.n_clusters} is larger than the number of points "
                             f"({X.size(0)}); lower n_clusters.")
        if self.metric == "cosine":
            X = torch.nn.functional.normalize(X, dim=1)
        return X.contiguous()

    def _seed_centers(self, X: Tensor, x_sq: Tensor, seed: int, chunk: int,
                      shard: _Shard) -> Tensor:
        k, n = self.n_clusters, shard.n
        gen = torch.Generator(device="cpu").manual_seed(seed)
        if isinstance(self.init, Tensor):
            if tuple(self.init.shape) != (k, X.size(1)):
                raise ValueError(f"init centres must have shape [{k}, {X.size(1)}], "
                                 f"got {list(self.init.shape)}.")
            return self.init.to(X.device, X.dtype).clone()
        if self.init == "random":
            return shard.rows(X, torch.randperm(n, generator=gen)[:k]).clone()
        n_trials = 2 + int(math.log(k))
        centers = torch.empty(k, X.size(1), dtype=X.dtype, device=X.device)
        first = int(torch.randint(n, (1,), generator=gen))
        centers[0] = shard.rows(X, torch.tensor([first]))[0]
        closest = self._sq_dist_to(X, x_sq, centers[:1], chunk).squeeze(1)
        for c in range(1, k):
            total = shard.total(closest)
            if total <= 0:  # every point coincides with a centre: any choice is as good
                cand = torch.randint(n, (n_trials,), generator=gen)
            else:
                u = torch.rand(n_trials, generator=gen, dtype=torch.float64) * total
                cand = shard.searchsorted(closest, u).clamp_(max=n - 1)
            points = shard.rows(X, cand)
            d_cand = self._sq_dist_to(X, x_sq, points, chunk)  # [n, trials]
            new_closest = torch.minimum(closest.unsqueeze(1), d_cand)
            best = int(shard.sum(new_closest.sum(0)).argmin())
            closest = new_closest[:, best].contiguous()
            centers[c] = points[best]
        return centers

    @staticmethod
    def _sq_dist_to(X: Tensor, x_sq: Tensor, points: Tensor, chunk: int) -> Tensor:
        p_sq = (points * points).sum(1)
        out = torch.empty(X.size(0), points.size(0), dtype=X.dtype, device=X.device)
        for start in range(0, X.size(0), chunk):
            block = X[start:start + chunk]
            out[start:start + chunk] = torch.addmm(p_sq.unsqueeze(0), block, points.t(),
                                                   alpha=-2.0)
        out += x_sq.unsqueeze(1)
        return out.clamp_(min=0)

    def _lloyd(self, X: Tensor, x_sq: Tensor, centers: Tensor, tol: float, chunk: int,
               shard: _Shard, rel_inertia_tol: float = 0.0):
        k = self.n_clusters
        labels = None
        n_iter = 0
        last_inertia = None
        for n_iter in range(1, self.max_iter + 1):
            new_labels, dists = _assign(X, centers, x_sq, chunk)
            if rel_inertia_tol > 0:
                # Inertia of the current centres; each Lloyd pass can only lower it.
                inertia = float(shard.sum(dists.double().sum()))
                if last_inertia is not None and last_inertia - inertia <= rel_inertia_tol * inertia:
                    return centers, new_labels, inertia, n_iter
                last_inertia = inertia
            counts = shard.sum(torch.bincount(new_labels, minlength=k))
            sums = shard.sum(torch.zeros_like(centers).index_add_(0, new_labels, X))
            new_centers = sums / counts.clamp(min=1).unsqueeze(1).to(X.dtype)
            empty = torch.nonzero(counts == 0).flatten()
            if empty.numel():
                # Re-seed empty clusters with the points worst served by their centre.
                new_centers[empty] = shard.farthest(X, dists, empty.numel())
            shift = float(((new_centers - centers) ** 2).sum())
            centers = new_centers
            converged = labels is not None and not shard.any(not torch.equal(labels, new_labels))
            labels = new_labels
            if converged or shift <= tol:
                break
        labels, dists = _assign(X, centers, x_sq, chunk)
        return centers, labels, float(shard.sum(dists.double().sum())), n_iter
