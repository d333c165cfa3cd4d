"""Cora run times of the random-walk contrastive methods on this CPU, next to the published
V100 times (published-results.md: S3GC 124.7 s, MAGI 51.3 s).

* **S3GC**: the reference example exactly as documented, with the published Cora settings
  (``precompute_features(..., method='ppr', k_hop=3, alpha=0.2)``, hidden 256, walk length 3,
  context 3, 10 walks per node, ``loader(batch_size=2708, shuffle=True)``, Adam lr 0.01, all
  200 epochs of ``train_epoch``), then ``embed()`` and ``TorchKMeans(n_init=10)``.
* **MAGI, documented call**: the documented class call with the published Cora settings
  (``benchmarks/bench_documented.py``'s row: 1-layer GCN 512, ``MAGI(encoder, tau=0.3)``,
  ``precompute_full_graph_positive_pairs(num_walks=100, walk_length=2)``, Adam lr 5e-4, wd 1e-3,
  ``train_full`` for up to 400 epochs with patience 50, KMeans on the embeddings).
* **MAGI, CLI**: the command line a user types, ``pyagc run MAGI --dataset Cora`` (the shipped
  YAML: the same published settings).

Every row runs in a child process (its CPU seconds are the child's user + system time, imports
included; the S3GC and documented-MAGI rows also report the seconds of the run itself).
``--trees A B`` runs every row once per source tree (``PYTHONPATH=A``, then ``B``), back to
back in this one script, e.g. the committed code against a working copy: the table then shows
each tree's times and the ratio to the first tree. Prints a Markdown table.

    python benchmarks/bench_walk_models_time.py --root DIR --threads 1
    python benchmarks/bench_walk_models_time.py --root DIR --methods MAGI MAGI-CLI \
        --trees /path/to/old/checkout /path/to/new/checkout
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch

PUBLISHED_V100_S = {"S3GC": 124.74, "MAGI": 51.3, "MAGI-CLI": 51.3}
WHAT = {"S3GC": "reference example, 200 epochs",
        "MAGI": "documented class call, <= 400 epochs",
        "MAGI-CLI": "pyagc run MAGI --dataset Cora"}


def s3gc_reference_example(root: str, seed: int):
    from pyagc.clusters import TorchKMeans
    from pyagc.data import get_dataset
    from pyagc.metrics import label_metrics
    from pyagc.models.s3gc import S3GC, precompute_features
    from pyagc.utils import set_seed

    x, edge_index, y = get_dataset("Cora", root)[:3]
    set_seed(seed)
    ax, sx = precompute_features(x, edge_index, x.size(0), method="ppr", k_hop=3, alpha=0.2)
    model = S3GC(edge_index=edge_index, num_nodes=x.size(0), in_channels=x.size(1),
                 hidden_channels=256, walk_length=3, context_size=3, walks_per_node=10)
    model.set_precomputed_features(ax, sx)
    loader = model.loader(batch_size=2708, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(1, 201):
        model.train_epoch(loader, optimizer, epoch, verbose=False)
    z = model.embed()
    pred = TorchKMeans(n_clusters=int(y.max()) + 1, n_init=10, max_iter=300,
                       random_state=seed).fit_predict(z)
    scores = label_metrics(y, pred, metrics=("NMI", "ACC"))
    return f"NMI {100 * scores['NMI']:.2f}, ACC {100 * scores['ACC']:.2f}"


def magi_documented(root: str, seed: int):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_documented as bd
    lib = bd._library()
    result = bd.run_one(lib, "magi", bd._load(lib, "Cora", root), seed, "pyagc")
    return f"NMI {result['NMI']:.2f}, ACC {result['ACC']:.2f}"


def worker(args) -> None:
    """One row in this interpreter: its wall / CPU seconds and quality as a JSON line."""
    torch.set_num_threads(args.threads)
    run = {"S3GC": s3gc_reference_example, "MAGI": magi_documented}[args.worker]
    wall, cpu = time.perf_counter(), time.process_time()
    quality = run(args.root, args.seed)
    print(json.dumps({"run_wall": time.perf_counter() - wall,
                      "run_cpu": time.process_time() - cpu, "quality": quality}))


def child(name: str, args, tree: str):
    """Row ``name`` in a child process on source tree ``tree``: (wall, CPU, run wall, run
    CPU, quality); the run seconds exclude the imports (``None`` for the CLI row)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads), PYTHONPATH=tree)
    if name == "MAGI-CLI":
        cmd = [sys.executable, "-m", "pyagc.cli", "run", "MAGI", "--dataset", "Cora", "--root",
               args.root, "--seed", str(args.seed), "--no-save", "-q"]
    else:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--root",
               args.root, "--seed", str(args.seed), "--threads", str(args.threads)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/")
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"{name} failed on {tree}: {proc.stderr.strip()[-300:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if name == "MAGI-CLI":
        cells = [line.strip("| ").split("|") for line in proc.stdout.splitlines()
                 if line.startswith(("| NMI", "| ACC"))]
        return wall, cpu, None, None, ", ".join(
            f"{name.split()[0]} {value.strip()}" for name, value in cells)
    out = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
    return wall, cpu, out["run_wall"], out["run_cpu"], out["quality"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", default=["S3GC", "MAGI", "MAGI-CLI"],
                        choices=list(WHAT))
    parser.add_argument("--trees", nargs="+", default=None,
                        help="source trees to compare (PYTHONPATH of each run); default: the "
                             "tree holding this script")
    parser.add_argument("--worker", choices=["S3GC", "MAGI"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    trees = [os.path.abspath(t) for t in (args.trees or
                                          [os.path.dirname(os.path.dirname(
                                              os.path.abspath(__file__)))])]
    rows = []
    for name in args.methods:
        for tree in trees:
            rows.append((name, tree, *child(name, args, tree)))
    print(f"Cora, seed {args.seed}, {args.threads} thread(s); every row a child process\n")
    print("| Method | run | tree | process wall s | process CPU s | run wall s | run CPU s | "
          "CPU / first tree | published V100 s | quality |")
    print("| :--- | :--- | :--- | ---: | ---: | ---: | ---: | ---: | ---: | :--- |")
    first = {}
    for name, tree, wall, cpu, run_wall, run_cpu, quality in rows:
        first.setdefault(name, cpu)
        fmt = (lambda v: "-" if v is None else f"{v:.1f}")
        print(f"| {name} | {WHAT[name]} | {tree} | {wall:.1f} | {cpu:.1f} | {fmt(run_wall)} | "
              f"{fmt(run_cpu)} | {cpu / first[name]:.2f} | {PUBLISHED_V100_S[name]:.1f} | "
              f"{quality} |")


if __name__ == "__main__":
    main()
