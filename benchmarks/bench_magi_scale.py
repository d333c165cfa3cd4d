"""MAGI mini-batch training at scale: where the time of an epoch goes.

On a CSBM graph (default 1M nodes, ~10M directed edges, 100 features), MAGI with the
published Products settings (1-layer SAGE 256, fan-out 10, 2048 roots per batch, 20 walks of
length 4, tau 0.9, no min-max scaling, lr 0.01) trains on the first ``--batches`` batches of
an epoch. Each batch is timed in its parts:

* ``walks``: the two-stage random walk (root expansion + modularity pairs), vectorised;
* ``sample``: neighbour sampling of the expanded seeds and the feature gather;
* ``encoder``: the SAGE forward pass;
* ``loss``: the InfoNCE over the expanded seeds (``O(|B|^2 d)``), forward and backward, and
  the optimiser step;

and the loss is also timed back to back with float32 products (``--compare-fp32``) on the
same embeddings. The epoch figure is extrapolated from the measured batches (said so in the
table); peak RSS is the process's.

    python benchmarks/bench_magi_scale.py --batches 3 [--cpu-time]
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch
import torch.nn.functional as F
from torch_geometric.sampler import NodeSamplerInput

from pyagc.data import make_csbm
from pyagc.encoders import create_tuned_gnn
from pyagc.models import MAGI
from pyagc.models.magi import MAGINeighborLoader, modularity_info_nce
from pyagc.ops import bf16_matmul_is_fast
from pyagc.utils import set_seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-nodes", type=int, default=1_000_000)
    parser.add_argument("--clusters", type=int, default=47)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--num-walks", type=int, default=20)
    parser.add_argument("--walk-length", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compare-fp32", action="store_true")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time the parts in CPU seconds of the process, not wall seconds")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    data = make_csbm(args.num_nodes, args.clusters, avg_degree=10, homophily=0.6,
                     num_features=100, feature_signal=0.5, seed=0)
    gen_s = time.perf_counter() - start
    set_seed(0)
    encoder = create_tuned_gnn("sage", 100, 256, num_layers=1, act="leaky_relu",
                               negative_slope=0.1)
    model = MAGI(encoder, tau=0.9, scale_embeddings=False, num_walks=args.num_walks,
                 walk_length=args.walk_length)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    start = time.perf_counter()
    loader = MAGINeighborLoader(data, [10], num_walks=args.num_walks,
                                walk_length=args.walk_length, batch_size=args.batch_size,
                                shuffle=True, seed=0)
    setup_s = time.perf_counter() - start
    sampler = loader.walk_sampler
    parts = {k: [] for k in ("walks", "sample", "encoder", "loss", "fp32 loss")}
    sizes, pairs = [], []
    batches = iter(torch.utils.data.DataLoader(range(data.num_nodes),
                                               batch_size=args.batch_size, shuffle=True,
                                               generator=torch.Generator().manual_seed(0)))
    # One thread on a shared machine: CPU seconds are the robust figure (--cpu-time).
    clock = time.process_time if args.cpu_time else time.perf_counter
    model.train()
    for _ in range(args.batches):
        roots = torch.as_tensor(next(batches))
        t0 = clock()
        expanded, pos = sampler.sample(roots)
        t1 = clock()
        # What MAGINeighborLoader.collate_fn does, split to time each part.
        out = loader.node_sampler.sample_from_nodes(
            NodeSamplerInput(input_id=expanded, node=expanded))
        out.metadata = (*out.metadata, pos, int(roots.numel()))
        batch = loader.filter_fn(out)
        t2 = clock()
        h = model.embed(batch.x, batch.edge_index)[:batch.expanded_batch_size]
        t3 = clock()
        z = F.normalize(h, dim=1)
        loss = modularity_info_nce(z, batch.pos_pairs, model.tau)
        opt.zero_grad()
        loss.backward()
        opt.step()
        t4 = clock()
        parts["walks"].append(t1 - t0)
        parts["sample"].append(t2 - t1)
        parts["encoder"].append(t3 - t2)
        parts["loss"].append(t4 - t3)
        if args.compare_fp32:
            zf = z.detach().clone().requires_grad_()
            t5 = clock()
            modularity_info_nce(zf, batch.pos_pairs, model.tau, bf16=False).backward()
            parts["fp32 loss"].append(clock() - t5)
        sizes.append(int(batch.expanded_batch_size))
        pairs.append(int(batch.pos_pairs.size(1)))
        print(f"batch: {roots.numel()} roots -> {sizes[-1]} expanded nodes, {pairs[-1]} pairs, "
              f"{batch.num_nodes} sampled nodes; " + ", ".join(
                  f"{k} {v[-1]:.2f} s" for k, v in parts.items() if v), flush=True)
    n_batches = -(-data.num_nodes // args.batch_size)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    per_batch = {k: statistics.mean(v) for k, v in parts.items() if v}
    train_batch = sum(v for k, v in per_batch.items() if k != "fp32 loss")
    print()
    print(f"MAGI mini-batch on a CSBM graph: {data.num_nodes:,} nodes, {data.num_edges:,} "
          f"directed edges (generated in {gen_s:.0f} s), {args.threads} thread(s), bf16 "
          f"products: {bf16_matmul_is_fast(torch.device('cpu'))}; loader set-up "
          f"{setup_s:.1f} s; mean expanded batch {statistics.mean(sizes):,.0f} nodes, "
          f"{statistics.mean(pairs):,.0f} positive pairs")
    print()
    print(f"Times in {'CPU' if args.cpu_time else 'wall'} seconds.")
    print("| Part | s / batch | share | s / epoch (extrapolated) |")
    print("| :--- | ---: | ---: | ---: |")
    for k, v in per_batch.items():
        share = f"{100 * v / train_batch:.0f}%" if k != "fp32 loss" else "(alternative)"
        print(f"| {k} | {v:.2f} | {share} | {v * n_batches:,.0f} |")
    print(f"| **one training batch** | {train_batch:.2f} | 100% | "
          f"**{train_batch * n_batches:,.0f}** ({n_batches} batches; {args.batches} "
          f"measured) |")
    if "fp32 loss" in per_batch:
        print(f"\nloss fp32 / bf16: {per_batch['fp32 loss'] / per_batch['loss']:.2f}x "
              "(same batches, back to back)")
    print(f"peak RSS {peak_gb:.2f} GB")


if __name__ == "__main__":
    main()
