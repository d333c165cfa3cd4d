"""1 process vs N processes (``torchrun``, gloo, CPU) on a large CSBM graph: epoch time,
inference and KMeans time, CPU seconds and quality of ``pyagc run MODEL --mini-batch
--distributed``.

On a machine with as many cores as processes this measures the speed-up; on a 2-core machine
shared with other work, 2 processes of 1 thread each measure correctness (the same quality)
and the overhead of the gradient all-reduce and the collectives, not a speed-up.

    python benchmarks/bench_distributed.py                       # 1M nodes, DMoN and DGI
    python benchmarks/bench_distributed.py --num-nodes 100000 --models DMoN

Each setting runs in its own ``torchrun`` job (``--worker`` is the per-rank entry point):
every rank generates the same graph (seeded), trains ``--epochs`` epochs through the runner,
infers its block of nodes and joins the distributed KMeans; each rank writes its timings and
the CPU seconds of its process (``time.process_time``) to a JSON file, and the table sums the
CPU seconds over the ranks.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CSBM = dict(avg_degree=10.0, homophily=0.6, num_features=64, feature_signal=0.5, seed=0)


def worker(args) -> None:
    import torch
    torch.set_num_threads(args.threads)
    from pyagc.data import make_csbm
    from pyagc.runner import run_experiment
    from pyagc.utils.distributed import get_rank, get_world_size, init_distributed
    distributed = args.world > 1
    if distributed:
        init_distributed()
    rank = get_rank()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    data = make_csbm(args.num_nodes, args.clusters, **CSBM)
    t_graph = time.perf_counter() - wall0
    rows = []
    for method in args.models:
        cpu, wall = time.process_time(), time.perf_counter()
        res = run_experiment(method, data=data, mini_batch=True, distributed=distributed,
                             verbose=False, seed=0,
                             overrides=[f"train.epochs={args.epochs}", "train.patience=0",
                                        f"cluster.n_clusters={args.clusters}"])
        record = res.records[0]
        rows.append({"method": method, "world": get_world_size(), "rank": rank,
                     "cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall,
                     "times": record["times"], "metrics": record["metrics"],
                     "memory_mb": record["memory_mb"]})
    with open(os.path.join(args.out, f"w{args.world}_rank{rank}.json"), "w") as handle:
        json.dump({"rows": rows, "graph_s": t_graph,
                   "process_cpu_s": time.process_time() - cpu0}, handle)


def launch(args, world: int, out: str) -> float:
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={world}",
           "--master_port", str(29500 + world), __file__, "--worker", "--world", str(world),
           "--out", out, "--num-nodes", str(args.num_nodes), "--clusters", str(args.clusters),
           "--epochs", str(args.epochs), "--threads", str(args.threads),
           "--models", *args.models]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, timeout=args.timeout)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--world", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--num-nodes", type=int, default=1_000_000)
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--models", nargs="+", default=["DMoN", "DGI"])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--processes", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--threads", type=int, default=1, help="threads per process")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per setting")
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    out = tempfile.mkdtemp(prefix="bench_distributed_")
    launched = {world: launch(args, world, out) for world in args.processes}
    print(f"CSBM {args.num_nodes:,} nodes (avg degree {CSBM['avg_degree']:g}, "
          f"{args.clusters} clusters, {CSBM['num_features']} features), {args.epochs} "
          f"epoch(s), packaged YAML otherwise, {args.threads} thread(s) per process, "
          f"{os.cpu_count()} cores.\n")
    print("| method | processes | train (epoch) s | inference s | KMeans s | run wall s | "
          "CPU s (all ranks) | NMI | ACC | Mod | peak RSS rank 0 MB | job wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for model in args.models:
        for world in args.processes:
            ranks = []
            for rank in range(world):
                with open(os.path.join(out, f"w{world}_rank{rank}.json")) as handle:
                    ranks.append(json.load(handle))
            rows = [next(r for r in rank["rows"] if r["method"] == model) for rank in ranks]
            first = rows[0]
            t, m = first["times"], first["metrics"]
            cpu = sum(r["cpu_s"] for r in rows)
            print(f"| {model} | {world} | {t['train']:.1f} | {t['inference']:.1f} | "
                  f"{t['clustering']:.1f} | {first['wall_s']:.1f} | {cpu:.1f} | "
                  f"{100 * m['NMI']:.2f} | {100 * m['ACC']:.2f} | {100 * m['Mod']:.2f} | "
                  f"{first['memory_mb']:.0f} | {launched[world]:.0f} |")


if __name__ == "__main__":
    main()
