"""Self-training joint methods (DAEGC, DinkNet): Cora/CiteSeer quality and time, and the cost of
one epoch of each stage, mini-batch, on a 1M-node synthetic graph.

Two modes:

* ``--mode quality``: ``pyagc.runner.run_experiment`` with the packaged YAML (the same call
  as ``pyagc run METHOD --dataset D --runs N``), one table row per method and dataset: NMI,
  ACC (mean +- std over seeds) and the mean seconds per run. With ``--published-python
  PY`` (a separate venv holding the published pyagc 1.1.2) each seed is also run, in the same
  sitting, through that library's documented API with the published Cora hyperparameters,
  so the time ratio is measured under the same machine load. ``--documented`` runs the same
  documented-API script with this library (the classes built as the reference documentation
  shows, published hyperparameters, no YAML).
* ``--mode scale``: a CSBM graph (default 1M nodes, ~10M edges); the method is built from its
  YAML (``--hidden`` channels), trained with :class:`pyagc.sampling.NeighborLoader` batches,
  and the script times ``--batches`` optimiser steps of the pretrain stage, as many no-grad
  inference batches (what the centre initialisation and DAEGC's target refresh cost per
  batch) and finetune steps, then extrapolates each to a whole epoch (``--batches 0``: run
  whole epochs). Peak RSS is the process's. Run one method per process.

    python benchmarks/bench_self_training.py --mode quality --datasets Cora CiteSeer \
        --root DIR --seeds 0 1 2 3 4 [--published-python /path/to/venv/bin/python]
    python benchmarks/bench_self_training.py --mode scale --method DAEGC

Measured (``--mode scale --method M``, defaults: CSBM 1,000,000 nodes / 9,999,590 directed
edges, 64 features, hidden 64, batch 4096, fan-out 10, one thread; 3 batches timed per step
and extrapolated to the 245 batches of an epoch; machine shared, load average ~14 on 2
cores, so read the absolute seconds as upper bounds):

| method | pretrain s / epoch | inference s / pass | finetune s / epoch | per finetune epoch also | peak RSS |
|---|---|---|---|---|---|
| DinkNet (1-layer GCN) | 255 (1.04 s / batch) | 96 (0.39 s / batch) | 240 (0.98 s / batch) | global-term refresh 109 s (inference pass + 5 sparse products) | 2,257 MB |
| DAEGC (2-layer GAT) | 4,200 (17.1 s / batch) | 1,883 (7.7 s / batch) | 4,960 (20.3 s / batch) | target refresh = one inference pass | 2,557 MB |

KMeans on the 12,288 embedded seeds: 1.2-1.3 s. DAEGC's cost is the 2-layer GAT over the whole
2-hop subgraph of each batch (~157k nodes for 4,096 seeds; the layers are not trimmed per hop
yet), not its losses.
"""
from __future__ import annotations

import argparse
import itertools
import os
import resource
import statistics
import subprocess
import tempfile
import sys
import time

import torch

# Driven through the published library's documented public API (measurement only).
PUBLISHED_SNIPPET = r'''
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
from pyagc.models import DAEGC, DinkNet
from pyagc.encoders import create_tuned_gnn
from pyagc.metrics import label_metrics
from pyagc.utils import set_seed
from torch_geometric.datasets import Planetoid
import torch_geometric.transforms as T
from torch_geometric.data import Data
name, root, dataset, seed = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
d = Planetoid(root, dataset, transform=T.NormalizeFeatures())[0]
data = Data(x=d.x, edge_index=d.edge_index)
k = int(d.y.max()) + 1
set_seed(seed)
t0 = time.perf_counter()
if name == "DAEGC":
    enc = create_tuned_gnn("gat", in_channels=d.num_features, hidden_channels=64, num_layers=2,
                           act="elu", heads=4, concat=True)
    model = DAEGC(enc, k, 64, gamma=10.0, update_interval=5)
    stages, layers = [(200, 0.01), (100, 0.001)], 2
else:
    enc = create_tuned_gnn("gcn", in_channels=d.num_features, hidden_channels=512, num_layers=1,
                           act="prelu", act_last=True)
    model = DinkNet(enc, torch.nn.Linear(512, 512), k, 512, alpha=10.0)
    stages, layers = [(200, 0.01), (50, 0.001)], 1
for i, (epochs, lr) in enumerate(stages):
    if i == 1:
        model.initialize_cluster_centers(data, num_layers=layers, verbose=False)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(1, epochs + 1):
        model.train_full(data, opt, epoch, verbose=False, pretrain=(i == 0))
model.eval()
with torch.no_grad():
    pred = model(data.x, data.edge_index)
t1 = time.perf_counter()
m = label_metrics(d.y, pred, metrics=("NMI", "ACC"))
print(f"{100 * m['NMI']:.4f} {100 * m['ACC']:.4f} {t1 - t0:.3f}")
'''


def _published(python: str, threads: int, name: str, root: str, dataset: str, seed: int,
               env=None):
    # From a neutral folder: `python -c` puts the working directory first on sys.path, so run
    # from this checkout the other venv would import this library instead of its own.
    out = subprocess.run([python, "-c", PUBLISHED_SNIPPET, str(threads), name, root, dataset,
                          str(seed)], capture_output=True, text=True, check=True, env=env,
                         cwd=tempfile.gettempdir())
    nmi, acc, seconds = out.stdout.strip().splitlines()[-1].split()
    return float(nmi), float(acc), float(seconds)


def _fmt(values) -> str:
    if not values:
        return "-"
    std = statistics.pstdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {std:.2f}"


def quality(args) -> None:
    from pyagc.runner import run_experiment
    # Import what a run imports lazily (the metrics pull in scikit-learn, ~2 s) before the
    # timed runs: the published snippet also starts its clock after its imports.
    import pyagc.metrics  # noqa: F401
    print("| Method | Dataset | NMI | ACC | s / run | documented call NMI | documented call ACC "
          "| published NMI | published ACC | published s / run | time ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, dataset in itertools.product(args.methods, args.datasets):
        ours = {"NMI": [], "ACC": [], "t": []}
        doc = {"NMI": [], "ACC": [], "t": []}
        pub = {"NMI": [], "ACC": [], "t": []}
        for seed in args.seeds:
            t0 = time.perf_counter()
            res = run_experiment(name, dataset=dataset, root=args.root, seed=seed,
                                 verbose=False)
            ours["t"].append(time.perf_counter() - t0)
            metrics = res.records[0]["metrics"]
            ours["NMI"].append(100 * metrics["NMI"])
            ours["ACC"].append(100 * metrics["ACC"])
            runs = []
            if args.documented:
                # The same documented-API script, run with this library.
                runs.append((doc, sys.executable, args.documented_root or args.root))
            if args.published_python:
                runs.append((pub, args.published_python, args.published_root or args.root))
            for table, python, root in runs:
                env = dict(os.environ)
                if table is pub:
                    # Nor may a PYTHONPATH pointing at this checkout.
                    env.pop("PYTHONPATH", None)
                nmi, acc, seconds = _published(python, args.threads, name, root, dataset, seed,
                                               env)
                table["NMI"].append(nmi)
                table["ACC"].append(acc)
                table["t"].append(seconds)
        ratio = (f"{statistics.mean(ours['t']) / statistics.mean(pub['t']):.2f}"
                 if pub["t"] else "-")
        pub_t = f"{statistics.mean(pub['t']):.1f}" if pub["t"] else "-"
        print(f"| {name} | {dataset} | {_fmt(ours['NMI'])} | {_fmt(ours['ACC'])} | "
              f"{statistics.mean(ours['t']):.1f} | {_fmt(doc['NMI'])} | {_fmt(doc['ACC'])} | "
              f"{_fmt(pub['NMI'])} | {_fmt(pub['ACC'])} | {pub_t} | {ratio} |", flush=True)


def _timed_batches(loader, step, batches: int):
    """Run ``step`` on the first ``batches`` batches (all with 0); (seconds, count, total)."""
    total = len(loader)
    limit = total if batches == 0 else min(batches, total)
    t0 = time.perf_counter()
    for i, batch in enumerate(loader):
        if i >= limit:
            break
        step(batch)
    return time.perf_counter() - t0, limit, total


def scale(args) -> None:
    from pyagc.data import make_csbm
    from pyagc.models import resolve_model
    from pyagc.runner import resolve_config
    from pyagc.sampling import neighbor_loader
    from pyagc.utils import set_seed

    set_seed(0)
    t0 = time.perf_counter()
    data = make_csbm(args.num_nodes, args.clusters, avg_degree=args.avg_degree,
                     num_features=args.features, seed=0)
    t_graph = time.perf_counter() - t0
    cls = resolve_model(args.method)
    config = resolve_config(args.method, overrides={
        "model.encoder.hidden_channels": args.hidden})
    model = cls.from_config(config["model"], data, args.clusters, seed=0)
    model.prepare(data)
    stages = config["train"]["stages"]
    loader = neighbor_loader(data, model.num_hops, args.fan_out, args.batch_size,
                             shuffle=True, seed=0)
    rows = []

    def train_step(optimizer, pretrain):
        def step(batch):
            out = model.loss_batch(batch, pretrain=pretrain)
            optimizer.zero_grad(set_to_none=True)
            out.total.backward()
            optimizer.step()
        return step

    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=stages["pretrain"]["lr"])
    rows.append(("pretrain step", *_timed_batches(loader, train_step(opt, True),
                                                  args.batches)))

    # Inference batches: the centre initialisation (and DAEGC's target refresh) run one
    # no-grad pass like this over every node (DinkNet: its local term, the global one is
    # propagated over the whole graph afterwards).
    model.eval()
    seen = []
    encode = model.encode if hasattr(model, "refresh_global") else model.embed

    @torch.no_grad()
    def infer(batch):
        seen.append(encode(**model._inputs(batch))[:batch.batch_size])
    rows.append(("inference batch", *_timed_batches(loader, infer, args.batches)))
    # Centres from KMeans on the embedded seeds (the whole graph when --batches 0).
    from pyagc.clusters import TorchKMeans
    z = torch.nn.functional.normalize(torch.cat(seen), dim=1)
    t0 = time.perf_counter()
    km = TorchKMeans(n_clusters=args.clusters, n_init=10, random_state=0)
    km.fit_predict(z)
    t_kmeans = time.perf_counter() - t0
    model.cluster_head.reset_cluster_centers(km.cluster_centers_)
    extra = []
    if hasattr(model, "refresh_target"):
        # A target for every node, from the inference pass (the rows not embedded, when
        # only part of an epoch is timed, get uniform rows).
        q = torch.full((data.num_nodes, args.clusters), 1.0 / args.clusters)
        model.cluster_head.update_target(q)
    if getattr(model, "power", 0):
        # DinkNet's global term for every node: one whole inference pass, then `power`
        # sparse products over the whole graph; once per finetune epoch.
        t0 = time.perf_counter()
        model.refresh_global(loader)
        extra.append(("global-term refresh (whole graph, once per finetune epoch)",
                      time.perf_counter() - t0))
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=stages["finetune"]["lr"])
    rows.append(("finetune step", *_timed_batches(loader, train_step(opt, False),
                                                  args.batches)))

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"{args.method} on CSBM: {data.num_nodes:,} nodes, {data.edge_index.size(1):,} "
          f"edges, {args.features} features, hidden {args.hidden}, batch {args.batch_size}, "
          f"fan-out {args.fan_out}, {torch.get_num_threads()} thread(s); graph built in "
          f"{t_graph:.1f} s")
    print("| step | batches timed | s / batch | batches / epoch | s / epoch (extrapolated) |")
    print("|---|---|---|---|---|")
    for name, seconds, count, total in rows:
        per = seconds / max(count, 1)
        print(f"| {name} | {count} | {per:.2f} | {total} | {per * total:.0f} |")
    print(f"| KMeans on {z.size(0):,} embedded nodes | - | - | - | {t_kmeans:.1f} |")
    for name, seconds in extra:
        print(f"| {name} | - | - | - | {seconds:.0f} |")
    print(f"Peak RSS: {rss:,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["quality", "scale"], default="quality")
    parser.add_argument("--methods", nargs="+", default=["DAEGC", "DinkNet"])
    parser.add_argument("--datasets", nargs="+", default=["Cora"])
    parser.add_argument("--root", default="data")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--published-python", default=None)
    parser.add_argument("--published-root", default=None,
                        help="Planetoid root for the published library (default: --root)")
    parser.add_argument("--documented", action="store_true",
                        help="also run the documented-API script (published hyperparameters) "
                             "with this library")
    parser.add_argument("--documented-root", default=None,
                        help="Planetoid root for --documented (default: --root)")
    parser.add_argument("--method", default="DAEGC", help="scale mode")
    parser.add_argument("--num-nodes", type=int, default=1_000_000)
    parser.add_argument("--avg-degree", type=float, default=10.0)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--fan-out", type=int, default=10)
    parser.add_argument("--batches", type=int, default=3, help="scale mode; 0 = whole epochs")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    (quality if args.mode == "quality" else scale)(args)


if __name__ == "__main__":
    sys.exit(main())
