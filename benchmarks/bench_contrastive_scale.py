"""Mini-batch training of CCASSG / GBT / NS4GC on a large synthetic graph (default: a 1M-node,
~10M-edge CSBM with 64 features): seconds per batch, extrapolated seconds per epoch and peak
memory (RSS of the process; run one model per process for a clean figure). Times are wall
clock and process CPU time (one thread: the CPU time is what a shared machine distorts least).

Encoders follow the Products entries of the methods' YAMLs (CCASSG / GBT: 2-layer GCN with
batch norm; NS4GC: 2-layer SAGE with batch norm; views 0.0 / 0.5) at ``--hidden`` channels
(default: the published 512 / 512 / 256). NS4GC's non-edge term is the sampled estimate as
soon as a batch has more seeds than ``exact_max_nodes`` (10,000), as at batch 16384.

    python benchmarks/bench_contrastive_scale.py --model ns4gc --batch-size 16384 --batches 2
    python benchmarks/bench_contrastive_scale.py --model ccassg --batch-size 4096 --batches 2

Measured (1M nodes / 10M edges, one thread, first 2 batches of an epoch timed and extrapolated
to the whole epoch; the 2-core machine was shared at load 15-20, so the wall clock is ~9x the
CPU time; peak RSS of the process, graph included):

| model | encoder | batch | CPU s / batch | CPU s / epoch (extrapolated) | wall s / epoch | peak RSS |
| :--- | :--- | :--- | :--- | :--- | :--- | :--- |
| NS4GC | SAGE 256, batch norm | 16384 (62 batches) | 31.5 | 1,950 | 17,691 | 9.53 GB |
| CCASSG | GCN 512, batch norm | 4096 (245 batches) | 20.1 | 4,914 | 44,258 | 5.62 GB |
| GBT | GCN 512, batch norm | 4096 (245 batches) | 20.9 | 5,111 | 55,041 | 5.63 GB |
At batch 16384 CCASSG (GCN 512) went past the ~10 GB the shared machine had free and was
killed: a batch of 16384 seeds with fan-out 10 samples ~1.8M edges and up to ~180k nodes per
view, and each view keeps its activations for the backward pass. NS4GC's SAGE layers gather
an ``[E, D]`` message tensor per layer (PyG's edge-list path), which is most of its 9.5 GB.
"""
from __future__ import annotations

import argparse
import itertools
import resource
import time

import torch

from pyagc.data import make_csbm
from pyagc.encoders import create_tuned_gnn
from pyagc.models import CCASSG, GBT, NS4GC
from pyagc.sampling import NeighborLoader
from pyagc.transforms import GSSLTransform
from pyagc.utils import set_seed

MODELS = {
    "ccassg": (CCASSG, "gcn", 512, dict(lam=1e-3), 1e-3, 0.0),
    "gbt": (GBT, "gcn", 512, dict(lam=5e-3), 1e-3, 0.0),
    "ns4gc": (NS4GC, "sage", 256, dict(s=0.6, tau=0.1, lam=1.0, gam=1.0), 1e-3, 1e-5),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=list(MODELS), default="ns4gc")
    parser.add_argument("--num-nodes", type=int, default=1_000_000)
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=0, help="0: the published width")
    parser.add_argument("--batch-size", type=int, default=16384)
    parser.add_argument("--fan-out", type=int, default=10)
    parser.add_argument("--batches", type=int, default=3, help="0 = a whole epoch")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    data = make_csbm(args.num_nodes, args.clusters, avg_degree=10, homophily=0.7,
                     num_features=64, feature_signal=0.5, seed=0)
    gen_s = time.perf_counter() - start
    cls, gnn, hidden, kwargs, lr, wd = MODELS[args.model]
    hidden = args.hidden or hidden
    set_seed(0)
    encoder = create_tuned_gnn(gnn, 64, hidden, num_layers=2, norm="batch_norm")
    model = cls(encoder, GSSLTransform(0.0, 0.5, seed=1), GSSLTransform(0.0, 0.5, seed=2),
                **kwargs)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    loader = NeighborLoader(data, num_neighbors=[args.fan_out] * 2, batch_size=args.batch_size,
                            shuffle=True, seed=0)
    n_batches = len(loader)
    done = n_batches if args.batches <= 0 else min(args.batches, n_batches)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    start, cpu_start = time.perf_counter(), time.process_time()
    loss = model.train_batch(itertools.islice(loader, done), optimizer, 1, verbose=False)
    elapsed = time.perf_counter() - start
    per_batch = elapsed / done
    cpu_per_batch = (time.process_time() - cpu_start) / done
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    print("| model | nodes / edges | encoder | batch | fan-out | s / batch (wall, CPU) | "
          "s / epoch (wall, CPU) | peak RSS (GB) | mean loss |")
    print("| :--- | :--- | :--- | :--- | :--- | :--- | :--- | :--- | :--- |")
    print(f"| {args.model} | {data.num_nodes:,} / {data.num_edges:,} | {gnn} {hidden} | "
          f"{args.batch_size} | {args.fan_out} | {per_batch:.1f}, {cpu_per_batch:.1f} | "
          f"{per_batch * n_batches:.0f}, {cpu_per_batch * n_batches:.0f} ({n_batches} batches"
          f"{'' if done == n_batches else f', extrapolated from {done}'}) | {peak_gb:.2f} "
          f"({rss_before:.2f} before training) | {loss:.4f} |")
    print(f"(graph generated in {gen_s:.1f} s; {done} batches timed, {args.threads} thread(s))")


if __name__ == "__main__":
    main()
