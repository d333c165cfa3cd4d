"""MAGI's documented Cora call in float32 and in bfloat16 similarity products, back to back in
this one process: CPU seconds per run (``time.process_time``) and NMI / ACC, with the ratio.

The run is ``bench_documented.py``'s MAGI row (1-layer GCN 512, ``MAGI(encoder, tau=0.3)``,
100 walks of length 2, Adam lr 5e-4 wd 1e-3, <= 400 epochs, patience 50, TorchKMeans n_init 10)
with ``bf16`` fixed to ``False`` and then ``True`` for each seed; ``default`` adds the run with
the class default (``bf16=None``, :func:`pyagc.models.magi.use_bf16`). bfloat16 is only
meaningful on a CPU with native bfloat16 products, AMX or AVX-512 BF16
(:func:`pyagc.ops.bf16_matmul_is_fast`); elsewhere it is emulated and slow. Prints a Markdown
table.

Measured (``--seeds 0 1 2 3 4 --modes bfloat16 float32``, one thread, AMD EPYC with AVX-512
BF16 and no AMX, the other core busy with another job):

| products | NMI | ACC | CPU s/run | ratio to bfloat16 |
| :--- | :--- | :--- | :--- | :--- |
| bfloat16 | 58.87 ± 0.78 | 73.62 ± 1.39 | 76.3 | 1.00 |
| float32 | 59.03 ± 0.75 | 73.99 ± 1.24 | 155.4 | 2.04 |

(On an AMX CPU: 25.3 against 73.5 CPU s, 58.79 against 58.85 NMI.)

    python benchmarks/bench_magi_bf16.py --root DIR --seeds 0 --threads 1
"""
from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_documented as bd  # noqa: E402

MODES = {"float32": False, "bfloat16": True, "default": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--dataset", default="Cora")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=["float32", "bfloat16"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lib = bd._library()
    from pyagc.models.magi import MAGI
    from pyagc.ops import bf16_matmul_is_fast
    data = bd._load(lib, args.dataset, args.root)
    print(f"{args.dataset}, MAGI documented call, seeds {args.seeds}, {args.threads} thread(s), "
          f"fast bf16 products: {bf16_matmul_is_fast(torch.device('cpu'))}")
    rows = {mode: [] for mode in args.modes}
    try:
        for seed in args.seeds:
            for mode in args.modes:
                lib.models.MAGI = functools.partial(MAGI, bf16=MODES[mode])
                out = bd.run_one(lib, "magi", data, seed, "pyagc")
                rows[mode].append(out)
                print(f"  seed {seed} {mode}: NMI {out['NMI']:.2f} ACC {out['ACC']:.2f} "
                      f"{out['cpu']:.1f} CPU s", flush=True)
    finally:
        lib.models.MAGI = MAGI

    def stat(mode: str, key: str) -> str:
        values = [r[key] for r in rows[mode]]
        if len(values) == 1:
            return f"{values[0]:.2f}"
        return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"

    base = statistics.mean(r["cpu"] for r in rows[args.modes[0]])
    print(f"\n| products | NMI | ACC | CPU s/run | ratio to {args.modes[0]} |")
    print("| :--- | :--- | :--- | :--- | :--- |")
    for mode in args.modes:
        cpu = statistics.mean(r["cpu"] for r in rows[mode])
        print(f"| {mode} | {stat(mode, 'NMI')} | {stat(mode, 'ACC')} | {cpu:.1f} | "
              f"{cpu / base:.2f} |")


if __name__ == "__main__":
    main()
