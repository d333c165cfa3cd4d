"""Random-walk throughput of ``pyagc.sampling.random_walk`` on the synthetic CSBM graph.

Side by side in one run: uniform and node2vec-biased walks (vectorised, graph structure built
once with ``walk_graph``), the same walks rebuilding the structure from ``edge_index`` on
every call (a new tensor object each time), and a per-walk Python-loop reference on a
subset.

Usage (defaults: 1M nodes, 10M edges, 100k walks of length 20, one core)::

    python benchmarks/bench_walks.py
    python benchmarks/bench_walks.py --num-nodes 100000 --num-walks 20000
"""
from __future__ import annotations

import argparse
import random
import time

import numpy as np
import torch

from pyagc.data import make_csbm
from pyagc.sampling import random_walk, walk_graph


def python_loop_walks(ptr: np.ndarray, index: np.ndarray, start: np.ndarray, length: int,
                      p: float, q: float, rng: random.Random) -> int:
    """Per-walk, per-step reference (rejection sampling for node2vec, set lookups)."""
    bound = max(1 / p, 1.0, 1 / q)
    steps = 0
    for s in start.tolist():
        prev, cur = -1, s
        for _ in range(length):
            neigh = index[ptr[cur]:ptr[cur + 1]]
            if len(neigh) == 0:
                steps += 1
                continue
            while True:
                x = int(neigh[rng.randrange(len(neigh))])
                if prev < 0:
                    break
                if x == prev:
                    w = 1 / p
                else:
                    w = 1.0 if bool((index[ptr[prev]:ptr[prev + 1]] == x).any()) else 1 / q
                if rng.random() * bound < w:
                    break
            prev, cur = cur, x
            steps += 1
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-nodes", type=int, default=1_000_000)
    parser.add_argument("--avg-degree", type=float, default=10.0)
    parser.add_argument("--num-walks", type=int, default=100_000)
    parser.add_argument("--walk-length", type=int, default=20)
    parser.add_argument("--ref-walks", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = make_csbm(args.num_nodes, 10, avg_degree=args.avg_degree, num_features=8,
                     seed=args.seed)
    ei = data.edge_index
    print(f"graph: {data.num_nodes:,} nodes, {ei.size(1):,} edges; {args.num_walks:,} walks "
          f"of length {args.walk_length}; torch threads {torch.get_num_threads()}")
    t0 = time.perf_counter()
    graph = walk_graph(ei, data.num_nodes)
    graph.has_multi_edges  # computed once, lazily; count it in the build
    t_build = time.perf_counter() - t0
    print(f"walk_graph build (sorted CSR + multi-edge check, once per graph): {t_build:.2f} s\n")

    gen = torch.Generator().manual_seed(args.seed)
    start = torch.randint(0, data.num_nodes, (args.num_walks,), generator=gen)
    ptr, index = graph.ptr.numpy(), graph.index.numpy()
    rng = random.Random(args.seed)
    print(f"{'walk':22s} {'method':38s} {'walks':>8s} {'seconds':>8s} {'M steps/s':>10s} "
          f"{'vs vectorised':>14s}")
    for name, p, q in [("uniform", 1.0, 1.0), ("node2vec p=0.5 q=2", 0.5, 2.0),
                       ("node2vec p=4 q=0.25", 4.0, 0.25)]:
        random_walk(graph, start[:100], 2, p, q, generator=gen)  # warm-up
        t0 = time.perf_counter()
        random_walk(graph, start, args.walk_length, p, q, generator=gen)
        t_vec = time.perf_counter() - t0
        base = args.num_walks * args.walk_length / t_vec
        rows = [("vectorised, prebuilt walk_graph", args.num_walks, t_vec)]
        t0 = time.perf_counter()
        # A fresh view is a new tensor object: random_walk rebuilds its structure.
        random_walk(ei.view(2, -1), start, args.walk_length, p, q, num_nodes=data.num_nodes,
                    generator=gen)
        rows.append(("vectorised, rebuilding from edge_index", args.num_walks,
                     time.perf_counter() - t0))
        t0 = time.perf_counter()
        python_loop_walks(ptr, index, start[:args.ref_walks].numpy(), args.walk_length, p, q,
                          rng)
        rows.append(("Python per-walk loop (reference)", args.ref_walks, time.perf_counter() - t0))
        for method, nw, t in rows:
            rate = nw * args.walk_length / t
            print(f"{name:22s} {method:38s} {nw:8d} {t:8.2f} {rate / 1e6:10.2f} "
                  f"{rate / base:14.3f}")


if __name__ == "__main__":
    main()
