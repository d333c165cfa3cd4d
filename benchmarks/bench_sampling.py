"""Neighbour-sampling throughput of ``pyagc.sampling`` on the synthetic CSBM graph.

Measures, side by side in one run on the same graph and seeds:

* pyagc's vectorised sampler alone (sampled edges / s, ms per batch);
* a per-node Python-loop sampler (the obvious alternative without pyg-lib) on a few batches;
* PyG's own ``NeighborLoader`` when pyg-lib / torch-sparse is installed;
* a full epoch of ``pyagc.sampling.NeighborLoader`` over all seed nodes, feature slicing
  included.

Usage (defaults = the issue's setting: 1M nodes, 10M edges, fan-out [15, 10], batch 1024,
one core)::

    python benchmarks/bench_sampling.py
    python benchmarks/bench_sampling.py --num-nodes 100000 --sample-batches 20 --no-epoch
"""
from __future__ import annotations

import argparse
import random
import time

import numpy as np
import torch

from pyagc.data import make_csbm
from pyagc.sampling import NeighborLoader, VectorizedNeighborSampler, pyg_sampler_available


def python_loop_sample(ptr: np.ndarray, index: np.ndarray, seeds: np.ndarray, fan_out,
                       rng: random.Random) -> int:
    """Per-node reference sampler (dict for the id map, random.sample per node)."""
    local = {int(v): i for i, v in enumerate(seeds)}
    frontier = [int(v) for v in seeds]
    num_edges = 0
    for k in fan_out:
        new = []
        for v in frontier:
            neigh = index[ptr[v]:ptr[v + 1]]
            chosen = neigh if (k < 0 or len(neigh) <= k) else \
                neigh[rng.sample(range(len(neigh)), k)]
            for u in chosen.tolist():
                if u not in local:
                    local[u] = len(local)
                    new.append(u)
            num_edges += len(chosen)
        frontier = new
    return num_edges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-nodes", type=int, default=1_000_000)
    parser.add_argument("--avg-degree", type=float, default=10.0)
    parser.add_argument("--fan-out", type=int, nargs="+", default=[15, 10])
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sample-batches", type=int, default=100)
    parser.add_argument("--ref-batches", type=int, default=3)
    parser.add_argument("--no-epoch", action="store_true", help="skip the full-epoch run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    data = make_csbm(args.num_nodes, 10, avg_degree=args.avg_degree, num_features=64,
                     seed=args.seed)
    t_gen = time.perf_counter() - t0
    print(f"graph: {data.num_nodes:,} nodes, {data.edge_index.size(1):,} edges, "
          f"x {tuple(data.x.shape)} (generated in {t_gen:.1f} s); fan-out {args.fan_out}, "
          f"batch {args.batch_size}, torch threads {torch.get_num_threads()}")

    t0 = time.perf_counter()
    sampler = VectorizedNeighborSampler(data, args.fan_out, seed=args.seed)
    t_csc = time.perf_counter() - t0

    perm = torch.randperm(data.num_nodes, generator=torch.Generator().manual_seed(args.seed))
    batches = [perm[i * args.batch_size:(i + 1) * args.batch_size]
               for i in range(min(args.sample_batches, data.num_nodes // args.batch_size))]
    sampler.sample(batches[0])  # warm-up
    edges = nodes = 0
    t0 = time.perf_counter()
    for seeds in batches:
        out = sampler.sample(seeds)
        edges += out.row.numel()
        nodes += out.node.numel()
    t_vec = time.perf_counter() - t0
    rows = [("pyagc vectorised sampler", len(batches), edges, t_vec)]

    ptr, index = sampler.csc.ptr.numpy(), sampler.csc.index.numpy()
    rng = random.Random(args.seed)
    ref_batches = batches[:args.ref_batches]
    t0 = time.perf_counter()
    ref_edges = sum(python_loop_sample(ptr, index, s.numpy(), args.fan_out, rng)
                    for s in ref_batches)
    t_ref = time.perf_counter() - t0
    rows.append(("Python per-node loop (reference)", len(ref_batches), ref_edges, t_ref))

    if pyg_sampler_available():
        loader = NeighborLoader(data, args.fan_out, input_nodes=torch.cat(batches),
                                batch_size=args.batch_size, backend="pyg")
        t0 = time.perf_counter()
        pyg_edges = sum(b.edge_index.size(1) for b in loader)
        rows.append(("PyG NeighborLoader (pyg-lib), incl. slicing", len(batches), pyg_edges,
                     time.perf_counter() - t0))
    else:
        print("PyG NeighborLoader: unavailable here (needs pyg-lib or torch-sparse).")

    base = edges / t_vec
    print(f"\nCSC build (once per graph): {t_csc:.2f} s")
    print(f"{'method':46s} {'batches':>8s} {'edges/batch':>12s} {'ms/batch':>9s} "
          f"{'M edges/s':>10s} {'vs pyagc':>9s}")
    for name, nb, ne, t in rows:
        print(f"{name:46s} {nb:8d} {ne / nb:12.0f} {t / nb * 1e3:9.1f} {ne / t / 1e6:10.2f} "
              f"{ne / t / base:9.3f}")

    if not args.no_epoch:
        loader = NeighborLoader(data, args.fan_out, batch_size=args.batch_size, shuffle=True,
                                seed=args.seed, backend="pyagc")
        t0 = time.perf_counter()
        n_batches = ep_edges = 0
        for batch in loader:
            n_batches += 1
            ep_edges += batch.edge_index.size(1)
        t_ep = time.perf_counter() - t0
        print(f"\nfull epoch, pyagc NeighborLoader (shuffle, x/y slicing included): "
              f"{n_batches} batches over {data.num_nodes:,} seeds in {t_ep:.1f} s "
              f"({ep_edges / t_ep / 1e6:.2f} M sampled edges/s, {t_ep / n_batches * 1e3:.1f} "
              "ms/batch)")


if __name__ == "__main__":
    main()
