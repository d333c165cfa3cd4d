"""How well ``pyagc auto`` chooses without labels: the picked (method, k), its NMI, and the best
NMI any candidate reached (the regret), on Cora, CiteSeer and synthetic graphs of known k.

    python benchmarks/bench_auto.py --root DIR [--graphs all] [--methods SSGC SGC ...]
                                    [--k-range 2:20] [--threads 1] [--warm-start-check]

``--root`` holds ``Cora/raw`` and ``CiteSeer/raw`` (e.g. ../shared/datasets; copied to a
temporary folder). The tool sees no labels: they are removed before it runs, and the NMI
columns are computed afterwards from its candidates' partitions. The methods run with their
default configs (as on a user's graph), not the per-dataset published ones.

Synthetic graphs: ``make_csbm(3000, k, avg_degree=10, homophily=h, feature_signal=s,
degree_exponent=d, size_exponent=a)`` for the (k, h, s, d, a) of :data:`SYNTHETIC`: power-law
degrees and Zipf-sized blocks make them less trivial than balanced SBMs.

``--warm-start-check`` adds a table: the KMeans sweep on one embedding (SSGC on Cora) with and
without the warm start from k - 1 (sum of the inertia over k, and seconds).

``--projection-check`` adds a table: the sweep over k = 2..20 on SSGC's embedding of Cora and
CiteSeer with every column and on its top 128 principal components (what auto does above 128
columns): CPU seconds, and the NMI of the partitions (mean over k, and at the true k).
"""
import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

from pyagc.data import get_dataset, make_csbm
from pyagc.metrics import label_metrics
from pyagc.runner.auto import DEFAULT_METHODS, auto, sweep_k

SYNTHETIC = [(4, 0.6, 0.5, 2.5, 0.5), (8, 0.6, 0.5, 2.5, 0.5), (12, 0.6, 0.5, 2.5, 0.5),
             (16, 0.6, 0.5, 2.5, 0.5), (6, 0.5, 0.3, 0.0, 0.0), (10, 0.5, 0.3, 2.5, 1.0)]


def graphs(root: str, which: str):
    if which in ("all", "real"):
        for name, k in (("Cora", 7), ("CiteSeer", 6)):
            x, edge_index, y = get_dataset(name, root)
            yield name, (x, edge_index, y), y, k
    if which in ("all", "synthetic"):
        for k, h, s, d, a in SYNTHETIC:
            data = make_csbm(3000, k, avg_degree=10, homophily=h, feature_signal=s, seed=0,
                             degree_exponent=d, size_exponent=a)
            yield f"CSBM k={k} h={h} s={s} deg={d} size={a}", data, data.y, k


def warm_start_check(root: str) -> None:
    from pyagc.models import SSGC
    x, edge_index, _ = get_dataset("Cora", root)
    z = SSGC(alpha=0.05, K=12).embed(x, edge_index)  # the packaged config
    print("\n| KMeans sweep k 2..20 (SSGC, Cora) | sum of inertia | seconds |\n|---|---|---|")
    for warm in (False, True):
        t0 = time.perf_counter()
        cands = sweep_k(z, edge_index, range(2, 21), "SSGC", warm_start=warm, n_init=4)
        print(f"| warm start {'on' if warm else 'off'} | {sum(c.inertia for c in cands):.2f} | "
              f"{time.perf_counter() - t0:.1f} |")


def projection_check(root: str) -> None:
    import torch.nn.functional as F
    from pyagc.models import SSGC
    from pyagc.runner.auto import SWEEP_DIMS
    print(f"\n| SSGC sweep k 2..20 | columns | CPU s | mean NMI over k | NMI at true k |\n"
          "|---|---|---|---|---|")
    for name, k_true in (("Cora", 7), ("CiteSeer", 6)):
        x, edge_index, y = get_dataset(name, root)
        z = SSGC(alpha=0.05, K=12).embed(x, edge_index)
        for dims in (None, SWEEP_DIMS):
            t0 = time.process_time()
            cands = sweep_k(z, edge_index, range(2, 21), "SSGC", n_init=4, max_dims=dims)
            cpu = time.process_time() - t0
            nmi = {c.k: 100 * label_metrics(y, c.labels, ("NMI",))["NMI"] for c in cands}
            print(f"| {name} | {dims or z.size(1)} | {cpu:.1f} | "
                  f"{sum(nmi.values()) / len(nmi):.2f} | {nmi[k_true]:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--graphs", default="all", choices=("all", "real", "synthetic"))
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS))
    parser.add_argument("--k-range", default="2:20")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warm-start-check", action="store_true")
    parser.add_argument("--projection-check", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tmp = tempfile.mkdtemp()
    for name in ("Cora", "CiteSeer"):
        if (Path(args.root) / name / "raw").is_dir():
            shutil.copytree(Path(args.root) / name / "raw", Path(tmp) / name / "raw")
    print(f"Portfolio: {' '.join(args.methods)}; k range {args.k_range}\n")
    print("| graph | true k | chosen k | chosen method | NMI of the choice | best candidate "
          "| best NMI | regret | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    try:
        for name, data, y, k_true in graphs(tmp, args.graphs):
            t0 = time.perf_counter()
            res = auto(data, args.k_range, args.methods, seed=0)
            seconds = time.perf_counter() - t0
            nmi = [label_metrics(y, c.labels, ("NMI",))["NMI"] for c in res.candidates]
            best = max(range(len(nmi)), key=nmi.__getitem__)
            chosen = res.candidates.index(res.choice)
            b = res.candidates[best]
            print(f"| {name} | {k_true} | {res.k} | {res.method} | {100 * nmi[chosen]:.2f} | "
                  f"{b.method} k={b.k} | {100 * nmi[best]:.2f} | "
                  f"{100 * (nmi[best] - nmi[chosen]):.2f} | {seconds:.0f} |", flush=True)
        if args.warm_start_check:
            warm_start_check(tmp)
        if args.projection_check:
            projection_check(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
