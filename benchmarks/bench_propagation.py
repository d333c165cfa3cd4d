"""Propagation operators before/after: one CSR (``normalized_adjacency``) against column slabs
(``normalized_operator``), on the Products-like graph, in one process, back to back.

    python benchmarks/bench_propagation.py [--nodes 500000] [--threads 2] [--filters ms2cag ssgc]

For each filter (MS2CAG's NSR: T=16, alpha=1.1 on L2-normalised rows; SSGC: K=10,
alpha=0.05) it builds the operator both ways and runs the same ``polynomial_filter``, timing
the build and the propagation (wall and CPU seconds), and prints the largest absolute
difference between the two outputs (float rounding: slabs sum the products in another order).
The graph is :func:`pyagc.data.make_products_like` (generation excluded; ``--graph-cache``
stores it in a ``.pt`` file for reruns).

Measured on the full Products-like graph (2,449,029 nodes, 121,851,230 edges, 100 float32
features, 15 slabs), ``--threads 2 --graph-cache ...``, on the shared 2-core machine while
another job held one core (so wall ~ CPU seconds); peak RSS 9.61 GB:

| filter | operator | slabs | build s | propagate s | total s | CPU s | ratio (total, after / before) | max abs diff / max abs |
|---|---|---|---|---|---|---|---|---|
| ms2cag | one CSR (before) | 1 | 25.4 | 160.0 | 185.3 | 180.4 |  |  |
| ms2cag | column slabs (after) | 15 | 10.2 | 93.3 | 103.4 | 88.4 | 0.56 | 2.1e-04 |
| ssgc | one CSR (before) | 1 | 18.8 | 98.1 | 116.9 | 119.4 |  |  |
| ssgc | column slabs (after) | 15 | 8.4 | 56.0 | 64.4 | 60.6 | 0.55 | 5.3e-05 |

The two operators hold the same values (compared entry by entry at 500,000 nodes: max
difference 0.0); the outputs differ by float rounding only, and against a float64 product
the slabs are the closer of the two (one hop at 500,000 nodes: max error 4.2e-7 against
1.7e-6 for MKL's single-CSR product, output max 0.41).
"""
import argparse
import resource
import time

import torch
import torch.nn.functional as F

from pyagc.ops import normalized_adjacency, normalized_operator, polynomial_filter
from products_graph import load_products_like


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=2_449_029)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--filters", nargs="+", default=["ms2cag", "ssgc"],
                        choices=["ms2cag", "ssgc"])
    parser.add_argument("--graph-cache", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_products_like(args.graph_cache, args.nodes)
    x, edge_index = data.x, data.edge_index
    del data
    n = x.size(0)
    rows = []
    for name in args.filters:
        if name == "ms2cag":
            weights = [1.1 ** t for t in range(17)]
            coefficients = [w / sum(weights) for w in weights]
            operand = F.normalize(x, dim=1)
        else:
            coefficients = [0.05] + [0.95 / 10] * 10
            operand = x
        hops = len(coefficients) - 1
        outputs = {}
        for path in ("one CSR (before)", "column slabs (after)"):
            if path.startswith("one"):
                build = lambda: normalized_adjacency(edge_index, n, dtype=operand.dtype)
            else:
                build = lambda: normalized_operator(edge_index, n, operand.size(1), hops,
                                                    dtype=operand.dtype)
            adj, build_wall, build_cpu = timed(build)
            out, prop_wall, prop_cpu = timed(lambda: polynomial_filter(adj, operand, coefficients))
            outputs[path] = out
            slabs = len(adj.parts) if hasattr(adj, "parts") else 1
            rows.append([name, path, slabs, build_wall, prop_wall, build_wall + prop_wall,
                         build_cpu + prop_cpu])
            del adj, out
        before, after = outputs.values()
        rows[-1].append(float((before - after).abs().max()) / float(before.abs().max()))
        rows[-2].append(float("nan"))
        del outputs, before, after
    print(f"\nProducts-like graph: {n:,} nodes, {edge_index.size(1):,} edges, "
          f"{x.size(1)} features, {torch.get_num_threads()} threads; peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2:.2f} GB\n")
    print("| filter | operator | slabs | build s | propagate s | total s | CPU s | "
          "ratio (total, after / before) | max abs diff / max abs |")
    print("|---|---|---|---|---|---|---|---|---|")
    for i, row in enumerate(rows):
        ratio = "" if i % 2 == 0 else f"{row[5] / rows[i - 1][5]:.2f}"
        diff = "" if i % 2 == 0 else f"{row[7]:.1e}"
        print(f"| {row[0]} | {row[1]} | {row[2]} | {row[3]:.1f} | {row[4]:.1f} | {row[5]:.1f} | "
              f"{row[6]:.1f} | {ratio} | {diff} |")


if __name__ == "__main__":
    main()
