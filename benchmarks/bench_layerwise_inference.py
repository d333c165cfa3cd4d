"""Full-graph inference of a 2-layer encoder: layer-wise vs one neighbour subgraph per batch.

    python benchmarks/bench_layerwise_inference.py [--nodes 1000000] [--avg-degree 20]
        [--features 128] [--hidden 256] [--types gcn sage] [--loader-batches 5] [--threads 2]

On a CSBM graph (default 1M nodes, ~20M directed = ~10M undirected edges, 128 features), a
2-layer encoder (``create_tuned_gnn``, hidden and output width ``--hidden``) embeds every node

* ``layer-wise``: :meth:`pyagc.encoders.TunedGNN.inference` (each layer once over all nodes,
  targets in batches of 65,536 with full neighbourhoods) -- what ``pyagc run --mini-batch``
  does now;
* ``loader``: the former mini-batch inference, :class:`pyagc.sampling.NeighborLoader` with
  full neighbourhoods (``inference_fan_out`` -1) and 4,096 seeds per batch, the encoder on each
  batch's 2-hop subgraph, seed rows kept. Only ``--loader-batches`` batches are run and the
  total is extrapolated to all batches (said so in the table).

Both are timed in wall and CPU seconds; the layer-wise embedding of the loader's seed nodes
is compared with the loader's (max abs difference). Peak RSS is the process's.

SAGE layer-wise inference, current path (row slices of one whole-graph aggregation matrix)
against the previous one (a relabelled subgraph and a gathered copy of the neighbours' rows
per batch of targets), same process, back to back, on the Products-sized graph
(``--products-like --graph-cache /tmp/scale2/products_like.pt --types sage --hidden 256
--loader-batches 0 --threads 2``; 2,449,029 nodes, 121,851,230 edges, 100 features; another
job held one of the two cores):

| encoder | inference | wall s | CPU s | max abs diff | peak RSS GB |
|---|---|---|---|---|---|
| sage | layer-wise, all 2,449,029 nodes | 64.5 | 66.8 | - | 9.34 |
| sage | layer-wise, per-batch subgraphs (previous) | 150.9 | 172.7 | 0.0e+00 | 13.88 |
| sage | ratio whole-graph rows / per-batch subgraphs | 0.43 | 0.39 | | |

(the RSS of the second row is the process's peak after both runs; the graph itself holds
~3 GB).

GCN, same command with ``--types gcn --hidden 256``: the current path runs a layer that does
not narrow as row blocks of the normalised CSR, ``(A[rows] X) W``, the previous one as one
whole-graph product (both with the current ``_stack``, which keeps one ``[N, width]`` layer
alive): 74.7 s / 13.27 GB against 60.5 s / 19.03 GB (ratio 1.23 in wall, 1.16 in CPU
seconds, max abs difference 2.5e-05): 5.8 GB less at 256 columns for 23 % more time; at
CCASSG's 512 columns the previous path did not fit in 24 GB (``bench_products_deep.py``).

GAT (DAEGC's encoder: one head, 256 columns), ``--nodes 200000 --avg-degree 50 --features 100
--hidden 256 --types gat --loader-batches 0 --threads 1`` (200,000 nodes, 9,957,920 edges; an
S3GC Products run held both cores throughout): the current path computes :math:`W h` and the
attention halves once per layer and aggregates each block of targets as a segment softmax and
one CSR product per head over the whole-graph :math:`W h`; the previous one ran ``GATConv`` on
each block's relabelled subgraph with a gathered copy of its neighbours' rows:

| encoder | inference | wall s | CPU s | max abs diff | peak RSS GB |
|---|---|---|---|---|---|
| gat | layer-wise, all 200,000 nodes | 9.5 | 9.3 | - | 1.58 |
| gat | layer-wise, previous path | 19.6 | 19.0 | 9.5e-07 | 2.76 |
| gat | ratio current / previous path | 0.49 | 0.49 | | |

Half of the current path's time is the CSR products (``torch.sparse.mm``), a sixth the
per-edge gathers of the attention scores (``torch.profiler``).
"""
import argparse
import itertools
import resource
import time
import types

import torch

from pyagc.data import make_csbm
from pyagc.encoders import TunedGAT, TunedGCN, TunedGNN, TunedGraphSAGE, create_tuned_gnn
from pyagc.sampling import NeighborLoader
from products_graph import load_products_like


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--avg-degree", type=float, default=20.0)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--types", nargs="+", default=["gcn", "sage"])
    parser.add_argument("--loader-batches", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--products-like", action="store_true",
                        help="the Products-sized graph (benchmarks/products_graph.py)")
    parser.add_argument("--graph-cache", default=None, help="with --products-like")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.products_like:
        data = load_products_like(args.graph_cache)
        args.nodes, args.features = data.num_nodes, data.num_features
    else:
        data = make_csbm(args.nodes, 50, avg_degree=args.avg_degree,
                         num_features=args.features, seed=0)
    num_batches = -(-args.nodes // args.batch_size)
    print(f"N={args.nodes:,} E={data.edge_index.size(1):,} F={args.features} "
          f"hidden={args.hidden} threads={torch.get_num_threads()}")
    print("| encoder | inference | wall s | CPU s | max abs diff | peak RSS GB |")
    print("|---|---|---|---|---|---|")
    for gnn_type in args.types:
        torch.manual_seed(0)
        encoder = create_tuned_gnn(gnn_type, args.features, args.hidden, num_layers=2).eval()
        wall, cpu = time.perf_counter(), time.process_time()
        z = encoder.inference(data.x, data.edge_index)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"| {gnn_type} | layer-wise, all {args.nodes:,} nodes | {wall:.1f} | {cpu:.1f} | "
              f"- | {peak_rss_gb():.2f} |", flush=True)
        if isinstance(encoder, (TunedGraphSAGE, TunedGCN, TunedGAT)):  # the previous path, side by side
            encoder.layerwise_conv = types.MethodType(TunedGNN.layerwise_conv, encoder)
            before, cpu_before = time.perf_counter(), time.process_time()
            z_old = encoder.inference(data.x, data.edge_index)
            before, cpu_before = time.perf_counter() - before, time.process_time() - cpu_before
            del encoder.layerwise_conv
            print(f"| {gnn_type} | layer-wise, previous path | {before:.1f} | "
                  f"{cpu_before:.1f} | {float((z_old - z).abs().max()):.1e} | "
                  f"{peak_rss_gb():.2f} |", flush=True)
            print(f"| {gnn_type} | ratio current / previous path | "
                  f"{wall / before:.2f} | {cpu / cpu_before:.2f} | | |", flush=True)
            del z_old
        if args.loader_batches <= 0:
            continue
        loader = NeighborLoader(data, num_neighbors=[-1, -1], batch_size=args.batch_size,
                                shuffle=False)
        wall, cpu, diff, seeds = time.perf_counter(), time.process_time(), 0.0, 0
        with torch.no_grad():
            for batch in itertools.islice(loader, args.loader_batches):
                out = encoder(batch.x, batch.edge_index)[:batch.batch_size]
                diff = max(diff, float((out - z[batch.n_id[:batch.batch_size]]).abs().max()))
                seeds += batch.batch_size
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        scale = args.nodes / seeds
        print(f"| {gnn_type} | loader, {args.loader_batches} of {num_batches} batches, "
              f"extrapolated | {wall * scale:.1f} | {cpu * scale:.1f} | {diff:.1e} | "
              f"{peak_rss_gb():.2f} |", flush=True)


if __name__ == "__main__":
    main()
