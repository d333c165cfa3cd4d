"""Cora quality and speed of the training-free methods and Node2Vec, next to the published table.

    python benchmarks/bench_nonparametric.py --root DIR [--seeds 5] [--methods all]
                                             [--n2v-epochs 100] [--threads N]

``--root`` is a folder holding ``Cora/raw`` (e.g. ../shared/datasets; it is copied to a temporary
folder). ``--raw-features`` swaps get_dataset's row-normalised features for Planetoid's binary ones.
Protocol of the published benchmark: embeddings L2-normalised, then pyagc's KMeansClusterHead
(torch backend, n_init=10, max_iter=300) with seed ``s`` for s in 0..seeds-1; Node2Vec is also
retrained per seed (Adam lr 0.01, batch 128, up to 100 epochs, stop after 20 epochs without a
lower loss). S2CAG/MS2CAG also report SNEM rounding (their forward).

Speed: median embed time of 3 calls per method, and, for SGC/SSGC, the same propagation done
with a PyG MessagePassing (gather/scatter over the edge list, what a MessagePassing subclass
runs on a plain pip install) in the same process: ratio = ours / PyG.
"""
import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch_geometric.nn import MessagePassing
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from pyagc.clusters import KMeansClusterHead
from pyagc.data import get_dataset
from pyagc.metrics import label_metrics
from pyagc.models import MS2CAG, NAFS, S2CAG, SAGSC, SGC, SSGC, Node2Vec

PUBLISHED = {  # NMI / ACC from the PyAGC benchmark paper (Cora, mean of 5 runs)
    "SSGC": (51.85, 65.38), "SAGSC": (44.35, 63.45), "MS2CAG": (53.64, 70.29),
    "Node2Vec": (44.95, 60.52),
}
METRICS = ("NMI", "ARI", "ACC", "F1")


class EdgeListPropagation(MessagePassing):
    """Baseline: K hops of sum aggregation with GCN weights over the edge list."""

    def __init__(self):
        super().__init__(aggr="add")

    def forward(self, x, edge_index, weight, K):
        for _ in range(K):
            x = self.propagate(edge_index, x=x, weight=weight)
        return x

    def message(self, x_j, weight):
        return weight.view(-1, 1) * x_j


def median_time(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, statistics.median(times)


def kmeans_scores(z, y, k, seeds):
    z = F.normalize(z, dim=1)
    rows = []
    for seed in seeds:
        pred = KMeansClusterHead(k, n_init=10, max_iter=300, random_state=seed).fit_predict(z)
        rows.append(label_metrics(y, pred, metrics=METRICS))
    return rows


def mean_std(rows, key):
    vals = [100 * r[key] for r in rows]
    return statistics.mean(vals), (statistics.pstdev(vals) if len(vals) > 1 else 0.0)


def train_node2vec(edge_index, n, seed, epochs, patience=20):
    torch.manual_seed(seed)
    model = Node2Vec(edge_index, 128, walk_length=10, context_size=10, walks_per_node=10,
                     num_nodes=n, seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = model.loader(batch_size=128, shuffle=True,
                          generator=torch.Generator().manual_seed(seed))
    best, best_state, wait, epoch_times = float("inf"), None, 0, []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        loss = model.train_epoch(loader, optimizer, epoch, verbose=False)
        epoch_times.append(time.perf_counter() - start)
        if loss < best:
            best, wait = loss, 0
            best_state = model.embedding.weight.detach().clone()
        else:
            wait += 1
            if wait >= patience:
                break
    return best_state, statistics.median(epoch_times), epoch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--methods", default="all")
    parser.add_argument("--n2v-epochs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--raw-features", action="store_true",
                        help="use Planetoid's binary features instead of get_dataset's "
                             "row-normalised ones (same graph and labels)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(Path(args.root) / "Cora" / "raw", Path(tmp) / "Cora" / "raw")
        x, edge_index, y = get_dataset("Cora", tmp)
        if args.raw_features:
            from torch_geometric.datasets import Planetoid
            x = Planetoid(tmp, "Cora")[0].x.float()
    n, k = x.size(0), int(y.max()) + 1
    seeds = list(range(args.seeds))
    wanted = None if args.methods == "all" else set(args.methods.split(","))

    embedders = {
        "SGC (K=4)": lambda: SGC(K=4).embed(x, edge_index),
        "SSGC": lambda: SSGC(alpha=0.05, K=12).embed(x, edge_index),
        "NAFS (mean)": lambda: NAFS(K=20, ensemble="mean").embed(x, edge_index),
        "NAFS (concat)": lambda: NAFS(K=20, ensemble="concat").embed(x, edge_index),
        "SAGSC": lambda: SAGSC(p=5, k=k).embed(x, edge_index),
        "S2CAG": lambda: S2CAG(k, T=20, alpha=0.9, tau=7, oversampling=10).embed(x, edge_index),
        "MS2CAG": lambda: MS2CAG(k, T=16, alpha=1.2, gamma=1.0, tau=100).embed(x, edge_index),
    }
    print(f"Cora: {n} nodes, {edge_index.size(1)} edges, {x.size(1)} "
          f"{'raw binary' if args.raw_features else 'row-normalised'} features, {k} classes; "
          f"{len(seeds)} KMeans seeds, torch threads = {torch.get_num_threads()}")
    header = f"| {'Method':22s} | {'NMI':>12s} | {'ARI':>12s} | {'ACC':>12s} | {'F1':>12s} | " \
             f"{'published NMI/ACC':>17s} | {'embed s':>8s} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")

    def report(name, rows, seconds, published_key=None):
        cells = [f"{m:.2f}±{s:.2f}" for m, s in (mean_std(rows, key) for key in METRICS)]
        pub = PUBLISHED.get(published_key or name.split(" ")[0])
        pub = f"{pub[0]:.2f} / {pub[1]:.2f}" if pub else "-"
        print(f"| {name:22s} | " + " | ".join(f"{c:>12s}" for c in cells) +
              f" | {pub:>17s} | {seconds:8.3f} |", flush=True)

    for name, fn in embedders.items():
        if wanted and name.split(" ")[0] not in wanted:
            continue
        z, seconds = median_time(fn)
        report(name, kmeans_scores(z, y, k, seeds), seconds)
        if name in ("S2CAG", "MS2CAG"):
            cls = S2CAG if name == "S2CAG" else MS2CAG
            kw = dict(T=20, alpha=0.9, tau=7) if name == "S2CAG" else \
                dict(T=16, alpha=1.2, gamma=1.0, tau=100)
            labels, seconds = median_time(lambda: cls(k, **kw)(x, edge_index))
            row = label_metrics(y, labels, metrics=METRICS)
            report(f"{name} (SNEM)", [row], seconds, published_key="-")

    if not wanted or "Node2Vec" in wanted:
        rows, epoch_times, epochs = [], [], []
        for seed in seeds:
            z, epoch_time, last = train_node2vec(edge_index, n, seed, args.n2v_epochs)
            rows += kmeans_scores(z, y, k, [seed])
            epoch_times.append(epoch_time)
            epochs.append(last)
        report("Node2Vec", rows, float("nan"))
        print(f"Node2Vec: median epoch {statistics.median(epoch_times):.3f} s "
              f"(epochs run per seed: {epochs})")

    # Propagation speed: pyagc's CSR SpMM vs PyG MessagePassing over the edge list.
    ei, w = gcn_norm(edge_index, None, n, add_self_loops=True)
    prop = EdgeListPropagation()
    print("\n| Propagation (Cora)     | pyagc CSR s | PyG MessagePassing s | ratio |")
    print("|------------------------|-------------|----------------------|-------|")
    for name, K, ours in (("SGC K=4", 4, lambda: SGC(K=4).embed(x, edge_index)),
                          ("SSGC K=12", 12, lambda: SSGC(0.05, K=12).embed(x, edge_index))):
        out, t_ours = median_time(ours, 5)
        if name.startswith("SGC"):
            ref, t_pyg = median_time(lambda: prop(x, ei, w, K), 5)
        else:
            def ssgc_pyg():
                acc, cur = 0.05 * x, x
                for _ in range(K):
                    cur = prop(cur, ei, w, 1)
                    acc = acc + (0.95 / K) * cur
                return acc
            ref, t_pyg = median_time(ssgc_pyg, 5)
        assert torch.allclose(out, ref, atol=1e-5), "propagation results differ"
        print(f"| {name:22s} | {t_ours:11.4f} | {t_pyg:20.4f} | {t_ours / t_pyg:5.2f} |")


if __name__ == "__main__":
    main()
