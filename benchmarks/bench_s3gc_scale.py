"""S3GC at scale: precompute and one training epoch on a 1M-node synthetic graph.

A CSBM with ``--num-nodes`` nodes (default 1M, average degree 10 -> about 10M directed edges,
64 features, 10 blocks), S3GC with the Products-style settings of ``pyagc/configs/S3GC.yaml``
(scale medium: 2-layer MLPs, hidden 256, walk length 5, context 6, 10 walks per node, batch
16384, PPR with k_hop 2). Times :func:`~pyagc.models.s3gc.precompute_features`, then the first
``--batches`` batches of an epoch (sampling + forward + backward + Adam step, each phase timed
apart) and extrapolates to the whole epoch (``ceil(N / batch)`` batches); ``--batches 0``
runs the whole epoch. Prints a Markdown table (wall and CPU seconds: on a shared machine the CPU
seconds are the figure to compare) with the peak RSS of the process.
One thread by default (the machine is shared).

    python benchmarks/bench_s3gc_scale.py                 # 1M nodes, 3 batches
    python benchmarks/bench_s3gc_scale.py --num-nodes 100000 --batches 0

Measured (``python benchmarks/bench_s3gc_scale.py --batches 2``: 1M nodes / 10M edges, batch
16384, one thread, load ~4 on the 2 shared cores; the class as of the per-window loss with its
own uniform negatives, the ``[N, H]`` node table updated densely by the documented
``torch.optim.Adam`` loop, window scores by one SDDMM, walks on ``A + I``):

| step | CPU s |
| :--- | ---: |
| precompute_features (PPR, k_hop 2) | 4.9 |
| per batch: sample | 0.20 |
| per batch: forward | 8.17 |
| per batch: backward | 12.79 |
| per batch: Adam step (dense, 1M x 256 table + MLPs) | 2.11 |
| one epoch, 62 batches, extrapolated from 2 | 1443 |
| embed all nodes | 7.1 |
| peak RSS | 10.69 GB |

A batch of 16384 start nodes holds 163,840 positive windows of 6 nodes (451,730 distinct
nodes, counted on one batch) and as many negative windows; together 746,541 distinct nodes,
75% of the graph: each batch encodes three quarters of the nodes through the two MLPs (each
once), which is where the time (forward + backward, 90%) and the activation memory go; the
dense Adam update of the table is 9% of a batch. (The earlier loss, in-batch negatives and no table, at batch
4096: 12.1 CPU s per batch, 2972 CPU s per epoch, 4.19 GB.)
"""
from __future__ import annotations

import argparse
import math
import resource
import time

import torch

from pyagc.data import make_csbm
from pyagc.models.s3gc import S3GC, precompute_features


def clocks():
    return time.perf_counter(), time.process_time()


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-nodes", type=int, default=1_000_000)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16384)
    parser.add_argument("--walk-length", type=int, default=5)
    parser.add_argument("--context-size", type=int, default=6)
    parser.add_argument("--walks-per-node", type=int, default=10)
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    start = time.perf_counter()
    data = make_csbm(args.num_nodes, 10, avg_degree=10, homophily=0.6, num_features=64,
                     feature_signal=0.5, seed=0)
    gen_s = time.perf_counter() - start
    start, cpu = clocks()
    ax, sx = precompute_features(data.x, data.edge_index, data.num_nodes, method="ppr",
                                 k_hop=2, alpha=0.2)
    pre_s = (time.perf_counter() - start, time.process_time() - cpu)
    start = time.perf_counter()
    model = S3GC(data.edge_index, data.num_nodes, data.num_features, args.hidden,
                 args.walk_length, args.context_size, walks_per_node=args.walks_per_node,
                 scale=args.scale, seed=0)
    model.set_precomputed_features(ax, sx)
    build_s = time.perf_counter() - start
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = model.loader(batch_size=args.batch_size, shuffle=True)
    total_batches = math.ceil(data.num_nodes / args.batch_size)
    run = total_batches if args.batches <= 0 else min(args.batches, total_batches)

    phases = {"sample": [0.0, 0.0], "forward": [0.0, 0.0], "backward": [0.0, 0.0],
              "step": [0.0, 0.0]}
    it = iter(loader)
    model.train()

    for _ in range(run):
        t0 = clocks()
        batch = next(it)
        t1 = clocks()
        out = model.loss(*batch)
        t2 = clocks()
        optimizer.zero_grad(set_to_none=True)
        out.total.backward()
        t3 = clocks()
        optimizer.step()
        t4 = clocks()
        for name, (a, b) in zip(phases, ((t0, t1), (t1, t2), (t2, t3), (t3, t4))):
            phases[name][0] += b[0] - a[0]
            phases[name][1] += b[1] - a[1]
    per_batch = [sum(v[i] for v in phases.values()) / run for i in range(2)]
    start, cpu = clocks()
    z = model.embed()
    embed_s = (time.perf_counter() - start, time.process_time() - cpu)
    note = "measured" if run == total_batches else f"extrapolated from {run} of {total_batches}"
    print(f"S3GC, {data.num_nodes} nodes, {data.num_edges} edges, 64 features (graph generated "
          f"in {gen_s:.1f} s); scale {model.scale}, hidden {args.hidden}, walk "
          f"{args.walk_length}, context {args.context_size}, {args.walks_per_node} walks/node, "
          f"batch {args.batch_size}, {args.threads} thread(s)\n")
    print("| step | wall s | CPU s |\n| :--- | ---: | ---: |")
    print(f"| precompute_features (PPR, k_hop 2) | {pre_s[0]:.1f} | {pre_s[1]:.1f} |")
    print(f"| build model (walk CSR, tables) | {build_s:.1f} | |")
    for name, (wall, cpu) in phases.items():
        print(f"| per batch: {name} | {wall / run:.2f} | {cpu / run:.2f} |")
    print(f"| one epoch ({total_batches} batches, {note}) | {per_batch[0] * total_batches:.0f} "
          f"| {per_batch[1] * total_batches:.0f} |")
    print(f"| embed all nodes | {embed_s[0]:.1f} | {embed_s[1]:.1f} |")
    print(f"| peak RSS | {peak_gb():.2f} GB | |")
    assert z.shape == (data.num_nodes, args.hidden) and torch.isfinite(z).all()


if __name__ == "__main__":
    main()
