"""Scale figures of the foundation: CSBM generation and structure metrics on 1M nodes / 10M edges.

    python benchmarks/bench_foundation.py [--nodes 1000000] [--avg-degree 10]

Structure metrics are compared with the same quantities from a SciPy sparse adjacency
(A = coo(edge_index); modularity from the cluster-indicator products), the obvious alternative.
"""
import argparse
import resource
import time

import numpy as np
import scipy.sparse as sp
import torch

from pyagc.data import make_csbm
from pyagc.metrics import structure_metrics


def scipy_modularity(edge_index, clusters):
    n, k = clusters.numel(), int(clusters.max()) + 1
    A = sp.coo_matrix((np.ones(edge_index.size(1)), edge_index.numpy()), shape=(n, n)).tocsr()
    S = sp.csr_matrix((np.ones(n), (np.arange(n), clusters.numpy())), shape=(n, k))
    internal = (S.T @ A @ S).diagonal()
    vol = S.T @ np.asarray(A.sum(1)).ravel()
    two_m = A.sum()
    return float((internal / two_m - (vol / two_m) ** 2).sum())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--avg-degree", type=float, default=10.0)
    parser.add_argument("--clusters", type=int, default=50)
    args = parser.parse_args()

    start = time.perf_counter()
    data = make_csbm(args.nodes, args.clusters, avg_degree=args.avg_degree, num_features=128, seed=0)
    t_gen = time.perf_counter() - start
    clusters = data.y.clone()
    clusters[::3] = torch.randint(args.clusters, (clusters[::3].numel(),))

    start = time.perf_counter()
    ours = structure_metrics(data.edge_index, clusters)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    ref = scipy_modularity(data.edge_index, clusters)
    t_ref = time.perf_counter() - start

    print(f"graph: {args.nodes:,} nodes, {data.edge_index.size(1):,} directed edges, 128 features")
    print("| step | seconds | note |")
    print("|---|---|---|")
    print(f"| make_csbm | {t_gen:.2f} | |")
    print(f"| structure_metrics (Mod+Cond) | {t_ours:.2f} | Mod={ours['Mod']:.6f}, Cond={ours['Cond']:.4f} |")
    print(f"| SciPy sparse modularity | {t_ref:.2f} | Mod={ref:.6f}, ratio ours/SciPy time {t_ours / t_ref:.2f} |")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
