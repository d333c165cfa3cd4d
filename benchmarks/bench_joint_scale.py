"""One training epoch of MinCut / Neuromap / GCSBM on a 1M-node synthetic graph.

A CSBM with ``--num-nodes`` nodes (default 1M, average degree 10, 64 features, 10 blocks), a
1-layer GCN encoder (``--hidden`` channels, SELU) and the model's head. ``--mode full`` runs
one full-batch epoch (forward + backward + step; the first epoch, which also builds the
graph's CSR / flow caches, is timed apart from the second); ``--mode mini`` runs the first
``--batches`` batches of a neighbour-sampled epoch and extrapolates to the whole epoch.
Prints seconds and the peak RSS of the process: run one model and mode per process.
One thread by default (the machine is shared).

    python benchmarks/bench_joint_scale.py --model mincut --mode full
    python benchmarks/bench_joint_scale.py --model gcsbm --variant poisson-dc --mode mini
"""
from __future__ import annotations

import argparse
import itertools
import resource
import time

import torch

from pyagc.data import make_csbm
from pyagc.encoders import create_tuned_gnn
from pyagc.models import GCSBM, MinCut, Neuromap
from pyagc.sampling import NeighborLoader
from pyagc.utils import set_seed


def build(args, num_features: int):
    enc = create_tuned_gnn("gcn", num_features, args.hidden, num_layers=1, act="selu",
                           act_last=True, cached=True)
    if args.model == "mincut":
        return MinCut(enc, args.hidden, args.clusters)
    if args.model == "neuromap":
        return Neuromap(enc, args.hidden, args.clusters)
    if args.model == "gcsbm":
        return GCSBM(enc, args.hidden, args.clusters, variant=args.variant, seed=0)
    raise ValueError(f"Unknown model {args.model!r}: mincut, neuromap or gcsbm.")


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mincut")
    parser.add_argument("--variant", default="bernoulli")
    parser.add_argument("--mode", choices=["full", "mini"], default="full")
    parser.add_argument("--num-nodes", type=int, default=1_000_000)
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16384)
    parser.add_argument("--fan-out", type=int, default=10)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    data = make_csbm(args.num_nodes, args.clusters, avg_degree=10, homophily=0.6,
                     num_features=64, feature_signal=0.5, seed=0)
    gen_s = time.perf_counter() - start
    base_gb = peak_gb()
    set_seed(0)
    model = build(args, data.num_features)
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    start = time.perf_counter()
    model.prepare(data)
    prep_s = time.perf_counter() - start
    name = args.model + (f" ({args.variant})" if args.model == "gcsbm" else "")
    print(f"{name}: {data.num_nodes} nodes, {data.num_edges} edges (generated in {gen_s:.1f} s,"
          f" peak RSS then {base_gb:.2f} GB); prepare {prep_s:.1f} s; hidden {args.hidden}, "
          f"k {args.clusters}, {args.threads} thread(s)")
    if args.mode == "full":
        times = []
        for epoch in range(2):
            start = time.perf_counter()
            loss = model.train_full(data, opt, epoch, verbose=False)
            times.append(time.perf_counter() - start)
        print(f"  full batch: epoch 1 {times[0]:.1f} s (builds caches), epoch 2 {times[1]:.1f} s;"
              f" loss {loss:.4f}; peak RSS {peak_gb():.2f} GB")
    else:
        loader = NeighborLoader(data, num_neighbors=[args.fan_out], batch_size=args.batch_size,
                                shuffle=True, seed=0)
        done = min(args.batches, len(loader)) if args.batches > 0 else len(loader)
        start = time.perf_counter()
        loss = model.train_batch(itertools.islice(loader, done), opt, 0, verbose=False)
        per = (time.perf_counter() - start) / done
        print(f"  mini-batch {args.batch_size} seeds, fan-out {args.fan_out}: {done}/{len(loader)}"
              f" batches, {per:.2f} s/batch -> {per * len(loader):.0f} s per epoch "
              f"(extrapolated); loss {loss:.4f}; peak RSS {peak_gb():.2f} GB")


if __name__ == "__main__":
    main()
