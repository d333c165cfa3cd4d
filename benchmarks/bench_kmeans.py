"""TorchKMeans vs scikit-learn's KMeans on the same data, same n_init, same max_iter.

    python benchmarks/bench_kmeans.py [--root DIR] [--n-init 10] [--repeats 1]

Prints wall time and inertia of both and their ratios (ours / scikit-learn). ``--root`` is a
writable folder holding ``Cora/raw`` (e.g. a copy of ../shared/datasets); without it the Cora
row is skipped. Both run in float32 on the CPU with the same threads.
"""
import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch
from sklearn.cluster import KMeans

from pyagc.clusters import TorchKMeans
from pyagc.data import get_dataset, make_csbm


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=None)
    parser.add_argument("--n-init", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    cases = [("CSBM 100k x 128, k=50",
              make_csbm(100_000, 50, avg_degree=1, num_features=128, feature_signal=0.5, seed=0).x,
              50)]
    root = args.root
    shared = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    if root is None and (shared / "Cora" / "raw").is_dir():
        root = tempfile.mkdtemp()
        shutil.copytree(shared / "Cora" / "raw", Path(root) / "Cora" / "raw")
    if root is not None:
        cases.append(("Cora features 2708 x 1433, k=7", get_dataset("Cora", root)[0], 7))

    print(f"torch threads: {torch.get_num_threads()}, n_init={args.n_init}, max_iter=300")
    print("| data | ours (s) | sklearn (s) | time ratio | ours inertia | sklearn inertia | inertia ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, X, k in cases:
        X = X.float().contiguous()
        X_np = X.numpy()
        for rep in range(args.repeats):
            ours, t_ours = timed(lambda: TorchKMeans(n_clusters=k, n_init=args.n_init,
                                                     random_state=rep).fit(X))
            ref, t_ref = timed(lambda: KMeans(k, n_init=args.n_init, random_state=rep).fit(X_np))
            print(f"| {name} | {t_ours:.2f} | {t_ref:.2f} | {t_ours / t_ref:.2f} | "
                  f"{ours.inertia_:.6g} | {ref.inertia_:.6g} | {ours.inertia_ / ref.inertia_:.4f} |")


if __name__ == "__main__":
    main()
