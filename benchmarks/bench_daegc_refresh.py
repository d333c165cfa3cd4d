"""DAEGC's mini-batch target refresh: layer-wise over the whole graph vs one pass over the batches.

    python benchmarks/bench_daegc_refresh.py --graph-cache PATH [--nodes 200000] [--threads 2]

DAEGC recomputes its target ``P`` from every node's ``Q`` every ``update_interval`` epochs
(:meth:`pyagc.models.DAEGC.refresh_target`). On the Products-like graph
(``products_graph.load_products_like``; ``--nodes`` for a smaller one), with the runner's
``ogbn-products`` config of DAEGC (2-layer GAT, 256 columns, one head, batch norm; its
training loader: 16,384 roots per batch, fan-out 10), the same model (random weights, centres
at ``k`` random rows of its embedding) refreshes ``P`` two ways, back to back in one process:

* ``layer-wise``: ``refresh_batch_size=65536`` (the default) -- ``Q`` of the loader's whole
  graph by layer-wise inference, full neighbourhoods, two passes over the graph;
* ``per batch``: ``refresh_batch_size=None`` -- the previous refresh, one no-grad pass over
  the training loader's batches, each encoding its roots' sampled neighbourhoods.

Printed: wall and CPU seconds, the peak RSS so far (the process's; the per-batch row runs
second), and the mean absolute difference of the two targets (the per-batch one reads
sampled neighbourhoods, so it differs), next to the exact target's mean distance from the
uniform ``1/k`` for scale. The weights are untrained, so ``Q`` is nearly uniform: this
measures the cost, not the quality of either target.

Measured on the Products-like graph, 200,000 nodes, 9,839,922 edges, 13 batches
(``--graph-cache PATH --nodes 200000 --threads 2``, the machine idle):

| refresh | wall s | CPU s | peak RSS GB (so far) | mean abs diff P |
|---|---|---|---|---|
| layer-wise, whole graph | 8.0 | 15.6 | 1.72 | - |
| per batch (13 batches) | 21.5 | 41.8 | 1.79 | 1.30e-03 |
| ratio layer-wise / per batch | 0.37 | 0.37 | | |

(mean ``|P - 1/k|`` of the exact target: 1.19e-03.) At full size (2,449,029 nodes, 150
batches) the per-batch refresh took 1,225 s in a whole DAEGC run, and the same run's final
inference -- the same layer-wise pass -- 104.5 s (``bench_products_deep.py``'s docstring).
"""
import argparse
import resource
import time

import torch

from products_graph import load_products_like


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph-cache", default=None,
                        help="the Products-like graph's cache file (built there if missing)")
    parser.add_argument("--nodes", type=int, default=None,
                        help="nodes of the Products-like graph (default: Products' 2,449,029)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from pyagc.encoders import layerwise_inference
    from pyagc.models import DAEGC
    from pyagc.runner.config import resolve_config

    data = load_products_like(args.graph_cache, args.nodes)
    config = resolve_config("DAEGC", "ogbn-products")
    n_clusters = int(data.y.max()) + 1
    torch.manual_seed(args.seed)
    model = DAEGC.from_config(config["model"], data, n_clusters, seed=args.seed)
    train = config["train"]
    loader = model.train_loader(data, mini_batch=True, batch_size=train["batch_size"],
                                fan_out=train["fan_out"], seed=args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    rows = torch.randperm(data.num_nodes, generator=generator)[:n_clusters]
    model.eval()
    with torch.no_grad(), layerwise_inference(model, 65536):
        # The centres: the embeddings of k random nodes (what KMeans's seeding would pick).
        centres = model.embed(data.x, data.edge_index)[rows]
    model.cluster_head.reset_cluster_centers(centres)
    model.train()

    print(f"Products-like graph: {data.num_nodes:,} nodes, {data.edge_index.size(1):,} edges; "
          f"DAEGC ogbn-products config, batch {train['batch_size']}, fan-out {train['fan_out']}, "
          f"{len(loader)} batches, {torch.get_num_threads()} thread(s)")
    print("| refresh | wall s | CPU s | peak RSS GB (so far) | mean abs diff P |")
    print("|---|---|---|---|---|")
    model.refresh_batch_size = 65536
    exact, wall_l, cpu_l = timed(lambda: model.refresh_target(loader).clone())
    print(f"| layer-wise, whole graph | {wall_l:.1f} | {cpu_l:.1f} | {peak_rss_gb():.2f} | - |",
          flush=True)
    model.refresh_batch_size = None
    sampled, wall_b, cpu_b = timed(lambda: model.refresh_target(loader).clone())
    diff = float((sampled - exact).abs().mean())
    print(f"| per batch ({len(loader)} batches) | {wall_b:.1f} | {cpu_b:.1f} | "
          f"{peak_rss_gb():.2f} | {diff:.2e} |")
    print(f"| ratio layer-wise / per batch | {wall_l / wall_b:.2f} | {cpu_l / cpu_b:.2f} | | |")
    spread = float((exact - 1.0 / n_clusters).abs().mean())
    print(f"\nmean |P - 1/k| of the exact target: {spread:.2e}")


if __name__ == "__main__":
    main()
