"""Whole-graph refreshes during mini-batch training: layer-wise vs one pass over the batches.

    python benchmarks/bench_whole_graph_refresh.py --graph-cache PATH [--nodes 200000]
        [--methods DAEGC DinkNet] [--threads 2]

Two self-training methods recompute a whole-graph quantity from every node's encoder output
while they train on mini-batches: DAEGC its target ``P`` every ``update_interval`` epochs
(:meth:`pyagc.models.DAEGC.refresh_target`), DinkNet its global term
:math:`\hat{\mathbf{A}}^t\mathbf{H}` every clustering epoch
(:meth:`pyagc.models.DinkNet.refresh_global`). On the Products-like graph
(``products_graph.load_products_like``; ``--nodes`` for a smaller one), with the runner's
``ogbn-products`` config of each method (DAEGC: 2-layer GAT, 256 columns, one head, batch
norm, 16,384 roots per batch; DinkNet: 2-layer SAGE, 256 columns, batch norm, 32,768 seeds;
fan-out 10), the same model (random weights; DAEGC's centres at ``k`` random rows of its
embedding) refreshes two ways, back to back in one process:

* ``layer-wise``: ``refresh_batch_size=65536`` (DAEGC's default) -- the encoder output of the
  loader's whole graph by layer-wise inference, full neighbourhoods, one pass per layer;
* ``per batch``: ``refresh_batch_size=None`` (DinkNet's default) -- one no-grad pass over
  the training loader's batches, each encoding its seeds' sampled neighbourhoods.

Printed: wall and CPU seconds, the peak RSS so far (the process's; later rows run after
earlier ones), and the mean absolute difference of the two results (the per-batch one reads
sampled neighbourhoods, so it differs), next to the exact result's mean absolute entry (for
DAEGC its mean distance from the uniform ``1/k``) for scale. The weights are untrained: this
measures the cost, not the quality of either refresh.

Measured on the Products-like graph, 200,000 nodes, 9,839,922 edges (``--graph-cache PATH
--nodes 200000 --threads 2``, the machine idle):

| method | refresh | wall s | CPU s | peak RSS GB (so far) | mean abs diff | scale |
|---|---|---|---|---|---|---|
| DAEGC | layer-wise, whole graph | 5.5 | 10.7 | 1.75 | - | 1.19e-03 |
| DAEGC | per batch (13 batches of 16384, fan-out 10) | 17.4 | 33.3 | 1.80 | 1.30e-03 | |
| DAEGC | ratio layer-wise / per batch | 0.32 | 0.32 | | | |
| DinkNet | layer-wise, whole graph | 25.5 | 47.7 | 1.80 | - | 7.54e-02 |
| DinkNet | per batch (7 batches of 32768, fan-out 10) | 22.9 | 44.0 | 2.30 | 3.72e-03 | |
| DinkNet | ratio layer-wise / per batch | 1.12 | 1.08 | | | |

(An earlier run of the DAEGC rows alone: 8.0 against 21.5 s, ratio 0.37.) DAEGC's GAT gains
from the whole-graph pass, so it refreshes layer-wise by default; at full size (2,449,029
nodes, 150 batches) its per-batch refresh took 1,225 s in a whole run, and the same run's
final inference -- the same layer-wise pass -- 104.5 s (``bench_products_deep.py``'s
docstring). DinkNet's refresh is mostly its 20 smoothing products, the same in both rows, and
its SAGE layers cost more over full neighbourhoods than over fan-out 10, so layer-wise stays
opt-in there (exact, 1.12x the time).
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


def refresh(model, loader):
    if hasattr(model, "refresh_target"):
        return model.refresh_target(loader).clone()
    return model.refresh_global(loader).clone()


def scale_of(model, exact: torch.Tensor) -> float:
    if hasattr(model, "refresh_target"):
        return float((exact - 1.0 / exact.size(1)).abs().mean())
    return float(exact.abs().mean())


def build(method: str, data, seed: int):
    """The method's model and training loader, from its ``ogbn-products`` config."""
    from pyagc.encoders import layerwise_inference
    from pyagc.runner.config import resolve_config
    from pyagc.runner.registry import get_method

    cls = get_method(method)
    config = resolve_config(cls.__name__, "ogbn-products")
    n_clusters = int(data.y.max()) + 1
    torch.manual_seed(seed)
    model = cls.from_config(config["model"], data, n_clusters, seed=seed)
    train = config["train"]
    loader = model.train_loader(data, mini_batch=True, batch_size=train["batch_size"],
                                fan_out=train["fan_out"], seed=seed)
    if hasattr(model, "refresh_target"):
        rows = torch.randperm(data.num_nodes, generator=torch.Generator().manual_seed(seed))
        model.eval()
        with torch.no_grad(), layerwise_inference(model, 65536):
            # The centres: the embeddings of k random nodes (what KMeans's seeding would pick).
            centres = model.embed(data.x, data.edge_index)[rows[:n_clusters]]
        model.cluster_head.reset_cluster_centers(centres)
        model.train()
    return model, loader, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph-cache", default=None,
                        help="the Products-like graph's cache file (built there if missing)")
    parser.add_argument("--nodes", type=int, default=None,
                        help="nodes of the Products-like graph (default: Products' 2,449,029)")
    parser.add_argument("--methods", nargs="+", default=["DAEGC", "DinkNet"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    data = load_products_like(args.graph_cache, args.nodes)
    print(f"Products-like graph: {data.num_nodes:,} nodes, {data.edge_index.size(1):,} edges; "
          f"{torch.get_num_threads()} thread(s)")
    print("| method | refresh | wall s | CPU s | peak RSS GB (so far) | mean abs diff "
          "| scale |")
    print("|---|---|---|---|---|---|---|")
    for method in args.methods:
        model, loader, train = build(method, data, args.seed)
        model.refresh_batch_size = 65536
        exact, wall_l, cpu_l = timed(lambda: refresh(model, loader))
        print(f"| {method} | layer-wise, whole graph | {wall_l:.1f} | {cpu_l:.1f} | "
              f"{peak_rss_gb():.2f} | - | {scale_of(model, exact):.2e} |", flush=True)
        model.refresh_batch_size = None
        sampled, wall_b, cpu_b = timed(lambda: refresh(model, loader))
        diff = float((sampled - exact).abs().mean())
        print(f"| {method} | per batch ({len(loader)} batches of {train['batch_size']}, "
              f"fan-out {train['fan_out']}) | {wall_b:.1f} | {cpu_b:.1f} | "
              f"{peak_rss_gb():.2f} | {diff:.2e} | |")
        print(f"| {method} | ratio layer-wise / per batch | {wall_l / wall_b:.2f} | "
              f"{cpu_l / cpu_b:.2f} | | | |", flush=True)


if __name__ == "__main__":
    main()
