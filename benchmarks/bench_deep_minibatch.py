"""Mini-batch training of GAE / DGI / DMoN with pyagc.sampling.NeighborLoader.

Two modes:

* ``--mode quality``: on a CSBM graph small enough for both, train each model full-batch and
  mini-batch for about the same number of optimiser steps (default 100 full-batch epochs vs
  10 mini-batch epochs of 10 batches) and print NMI / ACC side by side (mean over seeds).
* ``--mode scale``: on a large CSBM graph (default 1M nodes, ~10M edges) run ``train_batch``
  over the first ``--batches`` batches of an epoch and print seconds per batch, the
  extrapolated seconds per epoch and the peak RSS of the process (run one model per process,
  under ``/usr/bin/time -v``, for a clean peak-memory figure).

    python benchmarks/bench_deep_minibatch.py --mode quality
    /usr/bin/time -v python benchmarks/bench_deep_minibatch.py --mode scale --model gae

Each model trains on the batches of its own ``train_loader`` (as the runner does);
``--plain-batches`` gives it a plain NeighborLoader instead (for GAE: its previous loss,
positives = the sampled edges into the seeds, embedded with keep_hops=1).

GAE, whole epoch on the 1M-node graph (62 batches of 16,384 roots, fan-out [10, 10],
2-layer SAGE 64), one thread, run back to back while another job held the second core
(``--mode scale --model gae --batches 0 --threads 1 [--plain-batches]``):

| GAE batches | s per epoch | CPU s per batch | peak RSS | ratio |
|---|---|---|---|---|
| plain (previous loss) | 129.6 | 2.08 | 2.35 GB | |
| EdgePairNeighborLoader (8,192 drawn edges per batch) | 67.2 | 1.08 | 1.95 GB | 0.52 |

Two threads, quiet machine (load ~1.5), back to back (``--threads 2``):

| GAE batches | s per epoch | CPU s per batch | peak RSS | ratio |
|---|---|---|---|---|
| plain (previous loss) | 81.2 | 2.51 | 2.28 GB | |
| EdgePairNeighborLoader | **40.2** | 1.21 | 1.94 GB | 0.50 |

(At two threads while another job held a core, the new epoch took 193.7 s: three busy
threads on two cores make OpenMP wait; measure two-thread figures on a quiet machine.)

Products-like graph (``--products-like``: 2,449,029 nodes, 121,851,230 edges, 100
features; generation ~44 s excluded), two threads, quiet machine, first 10 of 150 batches
(``--mode scale --model M --batches 10 --threads 2 --products-like``), benchmark encoders
(2-layer SAGE 64; DMoN 1-layer), not the published configurations:

| model | s per batch | s per epoch (extrapolated) | CPU s per epoch | peak RSS | published V100 total |
|---|---|---|---|---|---|
| GAE | 0.96 | 145 | 258 | 9.69 GB | 1,567 s |
| DGI | 0.97 | 146 | 269 | 9.76 GB | 3,019 s |
| DMoN | 0.23 | 35 | 66 | 9.70 GB | 1,373 s |

Peak RSS is the generated graph's (~9.7 GB). Not measured: whole epochs and inference.
``--batches 0 --evaluate`` with GAE at this size reached 24.3 GB RSS and was killed
during the mini-batch inference + KMeans of ``predict`` (not the layer-wise inference),
so the Products-sized inference column is still missing.
"""
from __future__ import annotations

import argparse
import itertools
import resource
import statistics
import time

import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from pyagc.clusters import TorchKMeans
from pyagc.data import make_csbm, make_products_like
from pyagc.encoders import TunedGNN, create_tuned_gnn
from pyagc.metrics import label_metrics
from pyagc.models import DGI, DMoN, GAE
from pyagc.sampling import NeighborLoader
from pyagc.utils import set_seed


def build(name: str, num_features: int, n_clusters: int, hidden: int):
    """Model, optimizer and the number of GNN layers (= sampling hops)."""
    if name == "gae":
        enc = create_tuned_gnn("sage", num_features, hidden, num_layers=2)
        model = GAE(enc)
        return model, torch.optim.Adam(model.parameters(), lr=0.01), 2
    if name == "dgi":
        enc = create_tuned_gnn("sage", num_features, hidden, num_layers=2, act="prelu",
                               act_last=True)
        model = DGI(hidden, enc)
        return model, torch.optim.Adam(model.parameters(), lr=0.001), 2
    if name == "dmon":
        enc = create_tuned_gnn("sage", num_features, hidden, num_layers=1, act="selu",
                               act_last=True)
        model = DMoN(enc, hidden, n_clusters)
        return model, torch.optim.Adam(model.parameters(), lr=0.01), 1
    raise ValueError(f"Unknown model {name!r}: gae, dgi or dmon.")


def predict(model, data: Data, n_clusters: int, loader=None, seed: int = 0) -> torch.Tensor:
    out = model.infer_full(data) if loader is None else model.infer_batch(loader, verbose=False)
    if isinstance(model, DMoN):
        return out
    return TorchKMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(
        F.normalize(out, dim=1))


def train_loader(model, data: Data, fan_out: int, hops: int, batch_size: int, seed: int,
                 plain: bool):
    """The model's own mini-batch loader (``train_loader``, as the runner uses it), or with
    ``plain`` a plain NeighborLoader (GAE's previous batches: no drawn edge pairs)."""
    if plain:
        return NeighborLoader(data, num_neighbors=[fan_out] * hops, batch_size=batch_size,
                              shuffle=True, seed=seed)
    return model.train_loader(data, mini_batch=True, batch_size=batch_size, fan_out=fan_out,
                              seed=seed)


def quality(args) -> None:
    data = make_csbm(args.num_nodes, args.clusters, avg_degree=10, homophily=args.homophily,
                     num_features=64, feature_signal=args.signal, seed=0)
    print(f"CSBM {data.num_nodes} nodes, {data.num_edges} edges, {args.clusters} clusters, "
          f"homophily {args.homophily}, feature_signal {args.signal}; full: {args.epochs} epochs, "
          f"mini: {args.mini_epochs} epochs of batch {args.batch_size}, fan-out {args.fan_out}")
    print(f"{'model':6s} {'full NMI':>14s} {'mini NMI':>14s} {'full ACC':>14s} {'mini ACC':>14s}"
          f" {'full s':>8s} {'mini s':>8s}")
    for name in args.models:
        rows = {"full": [], "mini": []}
        for seed in args.seeds:
            for mode in ("full", "mini"):
                set_seed(seed)
                model, opt, hops = build(name, 64, args.clusters, args.hidden)
                start = time.perf_counter()
                if mode == "full":
                    for epoch in range(args.epochs):
                        model.train_full(data, opt, epoch, verbose=False)
                    pred = predict(model, data, args.clusters, seed=seed)
                else:
                    if isinstance(model, DMoN):
                        model.set_graph_statistics(data)
                    loader = train_loader(model, data, args.fan_out, hops, args.batch_size,
                                          seed, args.plain_batches)
                    for epoch in range(args.mini_epochs):
                        model.train_batch(loader, opt, epoch, verbose=False)
                    infer = NeighborLoader(data, num_neighbors=[args.fan_out] * hops,
                                           batch_size=args.batch_size, seed=seed)
                    pred = predict(model, data, args.clusters, infer, seed)
                elapsed = time.perf_counter() - start
                s = label_metrics(data.y, pred, metrics=("NMI", "ACC"))
                rows[mode].append((100 * s["NMI"], 100 * s["ACC"], elapsed))

        def fmt(mode, i):
            vals = [r[i] for r in rows[mode]]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            return f"{statistics.mean(vals):6.2f} ± {sd:4.2f}"
        print(f"{name:6s} {fmt('full', 0):>14s} {fmt('mini', 0):>14s} {fmt('full', 1):>14s} "
              f"{fmt('mini', 1):>14s} {statistics.mean(r[2] for r in rows['full']):8.1f} "
              f"{statistics.mean(r[2] for r in rows['mini']):8.1f}", flush=True)


def scale(args) -> None:
    start = time.perf_counter()
    if args.products_like:
        data = make_products_like()
        args.clusters = int(data.y.max()) + 1
    else:
        data = make_csbm(args.num_nodes, args.clusters, avg_degree=10,
                         homophily=args.homophily, num_features=64,
                         feature_signal=args.signal, seed=0)
    gen_s = time.perf_counter() - start
    set_seed(0)
    model, opt, hops = build(args.model, data.num_features, args.clusters, args.hidden)
    if isinstance(model, DMoN):
        model.set_graph_statistics(data)
    loader = train_loader(model, data, args.fan_out, hops, args.batch_size, 0,
                          args.plain_batches)
    n_batches = len(loader)
    done = n_batches if args.batches <= 0 else min(args.batches, n_batches)
    if args.no_trim:
        TunedGNN.supports_per_hop_trimming = False
    start, cpu_start = time.perf_counter(), time.process_time()
    # train_batch takes any iterable of batches: the first `done` batches of the epoch.
    loss = model.train_batch(itertools.islice(loader, done), opt, 0, verbose=False)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    per_batch = elapsed / done
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    print(f"{args.model}: {data.num_nodes} nodes, {data.num_edges} edges (generated in "
          f"{gen_s:.1f} s); batch {args.batch_size}, fan-out {[args.fan_out] * hops}, "
          f"hidden {args.hidden}")
    if args.evaluate:
        start = time.perf_counter()
        infer = NeighborLoader(data, num_neighbors=[args.fan_out] * hops,
                               batch_size=args.batch_size, seed=0)
        pred = predict(model, data, args.clusters, infer)
        scores = label_metrics(data.y, pred, metrics=("NMI", "ACC"))
        print(f"  after {done} batches: NMI {100 * scores['NMI']:.2f}, ACC "
              f"{100 * scores['ACC']:.2f} (inference + clustering "
              f"{time.perf_counter() - start:.0f} s)")
    print(f"  {done}/{n_batches} batches in {elapsed:.1f} s ({per_batch:.2f} s/batch) "
          f"-> {per_batch * n_batches:.0f} s per epoch (extrapolated); CPU "
          f"{cpu / done:.2f} s/batch -> {cpu / done * n_batches:.0f} CPU s per epoch; per-hop "
          f"trimming {'off' if args.no_trim else 'on (where the model uses it)'}; "
          f"{'plain' if args.plain_batches else type(loader).__name__} batches; mean loss "
          f"{loss:.4f}; peak RSS {peak_gb:.2f} GB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["quality", "scale"], default="quality")
    parser.add_argument("--models", nargs="+", default=["gae", "dgi", "dmon"])
    parser.add_argument("--model", default="gae")
    parser.add_argument("--num-nodes", type=int, default=None)
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--homophily", type=float, default=0.6)
    parser.add_argument("--signal", type=float, default=0.5)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=100, help="full-batch epochs")
    parser.add_argument("--mini-epochs", type=int, default=10,
                        help="mini-batch epochs (10 x 10 batches = as many steps as full)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--fan-out", type=int, default=10)
    parser.add_argument("--batches", type=int, default=5, help="scale mode; 0 = a whole epoch")
    parser.add_argument("--evaluate", action="store_true",
                        help="scale mode: also infer all nodes in mini-batches and score them")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--products-like", action="store_true",
                        help="scale mode: make_products_like (2,449,029 nodes, 100 features, "
                             "47 blocks) instead of the 1M-node CSBM")
    parser.add_argument("--plain-batches", action="store_true",
                        help="plain NeighborLoader batches instead of the model's own "
                             "train_loader (GAE: no drawn edge pairs, the previous loss)")
    parser.add_argument("--no-trim", action="store_true",
                        help="scale mode: run the encoder on the whole sampled subgraph")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.mode == "quality":
        args.num_nodes = args.num_nodes or 10_000
        args.batch_size = args.batch_size or 1024
        quality(args)
    else:
        args.num_nodes = args.num_nodes or 1_000_000
        args.batch_size = args.batch_size or 16384
        scale(args)


if __name__ == "__main__":
    main()
