"""TorchKMeans vs scikit-learn's KMeans (and faiss-cpu when installed), same data, same n_init.

    python benchmarks/bench_kmeans.py [--root DIR] [--sizes 100000 300000 2449029]
                                      [--n-init 10] [--threads 2] [--exact-up-to 300000]

Rows:

* ``ours`` -- :class:`~pyagc.clusters.TorchKMeans` as shipped (``sample_size='auto'``: above
  ``max(1024 k, 50000)`` points the restarts run on a sample, then Lloyd refines on all);
* ``ours exact`` -- ``sample_size=None``: every restart on all points (only up to
  ``--exact-up-to`` points: it is the slow path this replaces);
* ``sklearn`` -- ``sklearn.cluster.KMeans(k, n_init, max_iter=300)``, the reference inertia;
* ``faiss`` -- ``faiss.Kmeans(d, k, nredo=n_init)`` with its defaults (25 iterations, at most
  256 training points per centroid), when ``faiss-cpu`` is importable
  (``pip install faiss-cpu``: a benchmark extra, not a dependency of pyagc).

Synthetic data are the features of a CSBM graph (``make_csbm``, 47 clusters, 100 features,
``--signal`` cluster signal: low values give overlapping clusters, where KMeans has local
minima). Times are wall seconds and CPU seconds of the process (with ``--threads 1`` the CPU
seconds are the fair comparison on a shared machine). Every inertia is recomputed on all points, in float64, from the returned centres; the
table gives seconds, the inertia ratio to scikit-learn's and NMI against the CSBM blocks.
``--root`` is a writable folder holding ``Cora/raw`` (e.g. a copy of ../shared/datasets) for a
Cora-features row (k=7); ``--no-cora`` skips it.
"""
import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

from pyagc.clusters import TorchKMeans
from pyagc.data import get_dataset, make_csbm


def inertia_of(X: torch.Tensor, centers: torch.Tensor) -> float:
    """Sum of squared distances to the nearest centre, float64, in chunks."""
    X, centers = X.double(), centers.double()
    total = 0.0
    for start in range(0, X.size(0), 65536):
        total += float(torch.cdist(X[start:start + 65536], centers).min(1).values.pow(2).sum())
    return total


def run_ours(X, k, n_init, seed, sample_size):
    km = TorchKMeans(n_clusters=k, n_init=n_init, random_state=seed,
                     sample_size=sample_size).fit(X)
    return km.cluster_centers_, km.labels_.numpy()


def run_sklearn(X, k, n_init, seed):
    km = KMeans(k, n_init=n_init, max_iter=300, random_state=seed).fit(X.numpy())
    return torch.as_tensor(km.cluster_centers_), km.labels_


def run_faiss(X, k, n_init, seed):
    import faiss
    km = faiss.Kmeans(X.size(1), k, nredo=n_init, seed=seed)
    km.train(X.numpy())
    labels = km.index.search(X.numpy(), 1)[1].ravel()
    return torch.as_tensor(km.centroids), labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--clusters", type=int, default=47)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--signal", type=float, default=0.3)
    parser.add_argument("--n-init", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--exact-up-to", type=int, default=300_000)
    parser.add_argument("--no-cora", action="store_true", help="skip the Cora-features row")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import faiss
        faiss.omp_set_num_threads(args.threads)
        have_faiss = True
    except ImportError:
        have_faiss = False

    cases = []
    for n in args.sizes:
        g = make_csbm(n, args.clusters, avg_degree=1, num_features=args.features,
                      feature_signal=args.signal, seed=args.seed)
        cases.append((f"CSBM {n:,} x {args.features}, k={args.clusters}", g.x.float(),
                      g.y.numpy(), args.clusters, n))
    root = args.root
    shared = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    if args.no_cora:
        root = None
    elif root is None and (shared / "Cora" / "raw").is_dir():
        root = tempfile.mkdtemp()
        shutil.copytree(shared / "Cora" / "raw", Path(root) / "Cora" / "raw")
    if root is not None:
        x, _, y = get_dataset("Cora", root)
        cases.append(("Cora features 2,708 x 1,433, k=7", x.float(), y.numpy(), 7, x.size(0)))

    print(f"threads: {args.threads} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}), "
          f"n_init={args.n_init}, seed={args.seed}, faiss: {have_faiss}")
    print("| data | method | wall s | CPU s | CPU / sklearn | inertia / sklearn | NMI |")
    print("|---|---|---|---|---|---|---|")
    for name, X, y, k, n in cases:
        X = X.contiguous()
        runs = [("ours", lambda: run_ours(X, k, args.n_init, args.seed, "auto"))]
        if n <= args.exact_up_to:
            runs.append(("ours exact", lambda: run_ours(X, k, args.n_init, args.seed, None)))
        runs.append(("sklearn", lambda: run_sklearn(X, k, args.n_init, args.seed)))
        if have_faiss:
            runs.append(("faiss", lambda: run_faiss(X, k, args.n_init, args.seed)))
        results = {}
        for label, fn in runs:
            start, cpu_start = time.perf_counter(), time.process_time()
            centers, labels = fn()
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            results[label] = (seconds, cpu, inertia_of(X, centers),
                              100 * normalized_mutual_info_score(y, labels))
        _, ref_cpu, ref_inertia, _ = results["sklearn"]
        for label, (seconds, cpu, inertia, nmi) in results.items():
            print(f"| {name} | {label} | {seconds:.2f} | {cpu:.2f} | {cpu / ref_cpu:.2f} | "
                  f"{inertia / ref_inertia:.4f} | {nmi:.2f} |", flush=True)


if __name__ == "__main__":
    main()
