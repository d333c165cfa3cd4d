"""Quality and time of the joint graph-objective models MinCut / Neuromap / GCSBM (and its
five variants) on Cora / CiteSeer, built from their packaged YAMLs exactly as ``pyagc run``
builds them (``run_experiment``). One thread (``torch.set_num_threads(1)``): the machine is
shared, so times are per single core. Prints mean ± std over seeds and the published figures.

    python benchmarks/bench_joint.py --root /tmp/datasets --dataset Cora --seeds 0 1 2 3 4
    python benchmarks/bench_joint.py --root /tmp/datasets --methods GCSBM \
        --variants bernoulli poisson bernoulli-dc poisson-dc match
    python benchmarks/bench_joint.py --root /tmp/datasets --methods MinCut --set lam=2.0

``--root`` is a writable copy of the datasets folder (PyG writes ``processed/`` there).
"""
from __future__ import annotations

import argparse
import statistics

import torch

from pyagc.runner import run_experiment

PUBLISHED = {("MinCut", "Cora"): (40.80, 52.95, 72.99, 12.28),
             ("Neuromap", "Cora"): (46.98, 56.96, 74.02, 10.96),
             ("DMoN", "Cora"): (43.84, 52.99, 71.81, 12.63)}
KEYS = ("NMI", "ACC", "Mod", "Cond")


def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "null": None}.get(text, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--dataset", default="Cora")
    parser.add_argument("--methods", nargs="+", default=["MinCut", "Neuromap", "GCSBM"])
    parser.add_argument("--variants", nargs="+", default=None,
                        help="GCSBM variants (default: the YAML's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--mini-batch", action="store_true")
    parser.add_argument("--set", nargs="*", default=[], help="model.KEY=VALUE overrides")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for method in args.methods:
        variants = args.variants if (method == "GCSBM" and args.variants) else [None]
        for variant in variants:
            overrides = {}
            for item in args.set:
                key, value = item.split("=", 1)
                overrides[key if "." in key else f"model.{key}"] = _parse_value(value)
            if variant is not None:
                overrides["model.variant"] = variant
            res = [run_experiment(method, dataset=args.dataset, root=args.root, seed=s,
                                  mini_batch=args.mini_batch, verbose=False,
                                  overrides=overrides).records[0] for s in args.seeds]
            stats = {}
            for key in KEYS:
                vals = [100 * r["metrics"][key] for r in res]
                stats[key] = (statistics.mean(vals), statistics.pstdev(vals))
            total = statistics.mean(r["times"]["total"] for r in res)
            name = method + (f" ({variant})" if variant else "")
            pub = PUBLISHED.get((method, args.dataset))
            rows.append((name, stats, total, pub))
            print(f"| {name} | " + " | ".join(f"{m:.2f} ± {s:.2f}" for m, s in stats.values())
                  + f" | {total:.1f} | " + (" / ".join(f"{p:.2f}" for p in pub) if pub else "–")
                  + " |", flush=True)
    print(f"\n{args.dataset}, seeds {args.seeds}, {'mini-batch' if args.mini_batch else 'full batch'}"
          f", 1 thread")
    print("| Method | NMI | ACC | Mod | Cond | Total (s) | published NMI / ACC / Mod / Cond |")
    print("|---|---|---|---|---|---|---|")
    for name, stats, total, pub in rows:
        print(f"| {name} | " + " | ".join(f"{m:.2f} ± {s:.2f}" for m, s in stats.values())
              + f" | {total:.1f} | " + (" / ".join(f"{p:.2f}" for p in pub) if pub else "–")
              + " |")


if __name__ == "__main__":
    main()
