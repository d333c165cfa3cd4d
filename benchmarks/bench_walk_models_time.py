"""Cora run times of the random-walk contrastive methods on this CPU, next to the published
V100 times (published-results.md: S3GC 124.7 s, MAGI 51.3 s).

* **S3GC**: the reference example exactly as documented, with the published Cora settings
  (``precompute_features(..., method='ppr', k_hop=3, alpha=0.2)``, hidden 256, walk length 3,
  context 3, 10 walks per node, ``loader(batch_size=2708, shuffle=True)``, Adam lr 0.01, all
  200 epochs of ``train_epoch``), then ``embed()`` and ``TorchKMeans(n_init=10)``.
* **MAGI**: the command line a user types, ``pyagc run MAGI --dataset Cora`` (the shipped
  YAML: the published settings, 400 epochs with patience 50), in a child process; its CPU
  seconds are the child's user + system time.

Wall and CPU seconds for each (on a shared machine the CPU seconds are the steadier figure;
with ``--threads 2`` CPU seconds can exceed wall seconds). Prints a Markdown table.

    python benchmarks/bench_walk_models_time.py --root DIR --threads 2
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

import torch

PUBLISHED_V100_S = {"S3GC": 124.74, "MAGI": 51.3}


def clocks():
    return time.perf_counter(), time.process_time()


def s3gc_reference_example(root: str, seed: int):
    from pyagc.clusters import TorchKMeans
    from pyagc.data import get_dataset
    from pyagc.metrics import label_metrics
    from pyagc.models.s3gc import S3GC, precompute_features
    from pyagc.utils import set_seed

    x, edge_index, y = get_dataset("Cora", root)[:3]
    set_seed(seed)
    wall, cpu = clocks()
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
    return (time.perf_counter() - wall, time.process_time() - cpu,
            f"NMI {100 * scores['NMI']:.2f}, ACC {100 * scores['ACC']:.2f}")


def magi_cli(root: str, seed: int, threads: int):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "pyagc.cli", "run", "MAGI", "--dataset", "Cora", "--root",
           root, "--seed", str(seed), "--no-save", "-q"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"pyagc run MAGI failed: {proc.stderr.strip()[-300:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    table = [line for line in proc.stdout.splitlines() if "NMI" in line or "|" in line]
    return wall, cpu, " / ".join(line.strip() for line in table[-2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", default=["S3GC", "MAGI"],
                        choices=["S3GC", "MAGI"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.methods:
        if name == "S3GC":
            rows.append((name, "reference example, 200 epochs",
                         *s3gc_reference_example(args.root, args.seed)))
        else:
            rows.append((name, "pyagc run MAGI --dataset Cora",
                         *magi_cli(args.root, args.seed, args.threads)))
    print(f"Cora, seed {args.seed}, {args.threads} thread(s)\n")
    print("| Method | run | wall s | CPU s | published V100 s | wall / V100 | quality |")
    print("| :--- | :--- | ---: | ---: | ---: | ---: | :--- |")
    for name, what, wall, cpu, quality in rows:
        ref = PUBLISHED_V100_S[name]
        print(f"| {name} | {what} | {wall:.1f} | {cpu:.1f} | {ref:.1f} | {wall / ref:.2f} | "
              f"{quality} |")


if __name__ == "__main__":
    main()
