"""1 process vs N processes (``torchrun``, gloo, CPU) on a large CSBM graph: epoch time,
inference and KMeans time, CPU seconds and quality of ``pyagc run MODEL --mini-batch
--distributed``.

On a machine with as many cores as processes this measures the speed-up; on a 2-core machine
shared with other work, 2 processes of 1 thread each measure correctness (the same quality)
and the overhead of the gradient all-reduce and the collectives, not a speed-up.

    python benchmarks/bench_distributed.py --set DGI:model.encoder.hidden_channels=128
    python benchmarks/bench_distributed.py --num-nodes 100000 --models DMoN

Each (method, processes) pair runs in its own ``torchrun`` job (``--worker`` is the per-rank
entry point): every rank generates the same graph (seeded), runs the method through the
runner (``--epochs`` epochs, no early stop), infers its block of nodes and joins the
distributed KMeans; each rank writes its timings and the CPU seconds of the run
(``time.process_time``) to a JSON file, and the table sums the CPU seconds over the ranks.
DGI's packaged encoder (1-layer GCN, 512 wide, batch 32768) needs several GB per process at 1M
nodes; on a small shared machine pass ``--set DGI:model.encoder.hidden_channels=128``.
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
    wall0 = time.perf_counter()
    data = make_csbm(args.num_nodes, args.clusters, **CSBM)
    t_graph = time.perf_counter() - wall0
    overrides = [f"train.epochs={args.epochs}", "train.patience=0",
                 f"cluster.n_clusters={args.clusters}", *args.set]
    cpu, wall = time.process_time(), time.perf_counter()
    res = run_experiment(args.models[0], data=data, mini_batch=True, distributed=distributed,
                         verbose=False, seed=0, overrides=overrides)
    record = res.records[0]
    row = {"method": args.models[0], "world": get_world_size(), "rank": rank,
           "cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall,
           "graph_s": t_graph, "times": record["times"], "metrics": record["metrics"],
           "memory_mb": record["memory_mb"], "overrides": overrides}
    with open(os.path.join(args.out, f"{args.models[0]}_w{args.world}_rank{rank}.json"),
              "w") as handle:
        json.dump(row, handle)


def launch(args, model: str, world: int, out: str) -> float:
    own = [s.split(":", 1)[1] for s in args.set if s.split(":", 1)[0] == model]
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={world}",
           "--master_port", str(29500 + world), __file__, "--worker", "--world", str(world),
           "--out", out, "--num-nodes", str(args.num_nodes), "--clusters", str(args.clusters),
           "--epochs", str(args.epochs), "--threads", str(args.threads), "--models", model]
    if own:
        cmd += ["--set", *own]
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
    parser.add_argument("--set", nargs="+", default=[], metavar="MODEL:KEY=VALUE",
                        help="config overrides of one model, e.g. "
                             "DGI:model.encoder.hidden_channels=128")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per job")
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    out = tempfile.mkdtemp(prefix="bench_distributed_")
    print(f"CSBM {args.num_nodes:,} nodes (avg degree {CSBM['avg_degree']:g}, "
          f"{args.clusters} clusters, {CSBM['num_features']} features), {args.epochs} "
          f"epoch(s), packaged YAML {' '.join(args.set) or 'as shipped'}, {args.threads} "
          f"thread(s) per process, {os.cpu_count()} cores. Times are rank 0's; CPU s is the "
          "sum over the ranks of the run (graph generation excluded).\n", flush=True)
    print("| method | processes | train (epoch) s | inference s | KMeans s | run wall s | "
          "CPU s (all ranks) | NMI | ACC | Mod | peak RSS rank 0 MB | job wall s |", flush=True)
    print("|---|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for model in args.models:
        for world in args.processes:
            job = launch(args, model, world, out)
            rows = []
            for rank in range(world):
                with open(os.path.join(out, f"{model}_w{world}_rank{rank}.json")) as handle:
                    rows.append(json.load(handle))
            first = rows[0]
            t, m = first["times"], first["metrics"]
            cpu = sum(r["cpu_s"] for r in rows)
            print(f"| {model} | {world} | {t['train']:.1f} | {t['inference']:.1f} | "
                  f"{t['clustering']:.1f} | {first['wall_s']:.1f} | {cpu:.1f} | "
                  f"{100 * m['NMI']:.2f} | {100 * m['ACC']:.2f} | {100 * m['Mod']:.2f} | "
                  f"{first['memory_mb']:.0f} | {job:.0f} |", flush=True)


if __name__ == "__main__":
    main()
