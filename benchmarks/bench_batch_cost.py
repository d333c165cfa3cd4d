"""CPU seconds of one mini-batch training step at each method's Products configuration,
for two source trees back to back (e.g. before / after a change).

    python benchmarks/bench_batch_cost.py --before /tmp/base --methods NS4GC CCASSG MinCut \
        [--nodes 200000 | --graph-cache /tmp/products_like.pt] [--batches 3] [--threads 1]

``--before`` is a directory holding another version of the ``pyagc`` package (e.g.
``git archive COMMIT pyagc | tar -x -C /tmp/base``); the current tree is this checkout. Each
(method, tree) pair runs in its own child process, one after the other, on the same graph:
:func:`pyagc.data.make_products_like` with ``--nodes`` nodes (cached under ``--cache-dir``),
or the full-size graph of ``--graph-cache`` (``benchmarks/products_graph.py``). The child
builds the model from the shipped YAML's ``ogbn-products`` entry (encoder, batch size,
fan-out) as the runner does (``from_config``, ``prepare``, ``train_loader``) and times
``--batches`` steps (sampling the batch, then loss, backward and Adam step) with
``time.process_time``; the table gives the step time of the last batch (the first pays
one-off costs such as the KMeans start of a joint head) and the ratio before / after.

The per-batch cost grows with the number of distinct sampled nodes, which grows with ``N``
(fewer repeats among 16,384 seeds' 2-hop neighbourhoods): the full-size graph gives the
Products figures, the 200,000-node graph the same configuration ~10x cheaper.

Measured (2-core machine shared with another job, one thread; this commit against its
parent, ``--nodes 200000 --batches 3``):

| method | config | seeds | sampled nodes | before step s | after step s | before / after |
|---|---|---|---|---|---|---|
| NS4GC | sage 256x2, fan-out 10 | 16384 | 184,827 | 13.71 | 1.85 | 7.4x |
| CCASSG | gcn 512x2, fan-out 10 | 16384 | 184,827 | 12.69 | 2.77 | 4.6x |
| MinCut | gcn 128x2, fan-out 10 | 4096 | 129,845 | 0.88 | 0.19 | 4.6x |
| DMoN | gcn 64x1, fan-out 10 | 4096 | 33,771 | 0.04 | 0.02 | 1.7x |
| GAE | sage 256x2, fan-out 10 | 16384 | 192,942 | 2.27 | 2.08 | 1.1x |

(``--methods NS4GC CCASSG MinCut DMoN GAE``.) Where the time went: NS4GC, CCASSG and the
joint heads ran their encoder on every sampled node although their losses read the seed rows
only (GAE and DGI already trimmed: GAE is the control); NS4GC's sampled non-edge term
gathered two ``[32 N, 256]`` row sets (4.0 s forward, 2.2 s backward at 16,384 seeds), now a
sparse sampled product; a slice that kept every row still cost a zero-filled gradient of the
whole layer in the backward pass; masking features with ``p = 0`` drew ``[N, F]`` uniforms.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def child(args) -> None:
    import time

    import torch

    sys.path.insert(0, HERE)
    from products_graph import load_products_like
    from pyagc.runner.config import resolve_config
    from pyagc.runner.registry import get_method

    torch.set_num_threads(args.threads)
    if args.graph_cache:
        data = load_products_like(args.graph_cache)
    else:
        data = load_products_like(os.path.join(args.cache_dir, f"products_like_{args.nodes}.pt"),
                                  args.nodes)
    cls = get_method(args.child)
    config = resolve_config(cls.__name__, "ogbn-products")
    train = config["train"]
    torch.manual_seed(0)
    model = cls.from_config(config["model"], data, 47, seed=0)
    model.prepare(data)
    loader = model.train_loader(data, mini_batch=True, batch_size=train["batch_size"],
                                fan_out=train["fan_out"], seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=train["lr"])
    model.train()
    batches = iter(loader)
    steps = []
    for _ in range(args.batches):
        t0 = time.process_time()
        batch = next(batches)
        t1 = time.process_time()
        model._step(optimizer, model._batch_loss(batch), 1, "bench")
        steps.append({"sample_s": t1 - t0, "step_s": time.process_time() - t1,
                      "nodes": int(batch.num_nodes)})
    enc = config["model"].get("encoder") or {}
    row = {"method": cls.__name__, "steps": steps, "seeds": int(train["batch_size"]),
           "config": f"{enc.get('gnn_type')} {enc.get('hidden_channels')}x"
                     f"{enc.get('num_layers')}, fan-out {train['fan_out']}"}
    with open(args.out, "w") as fh:
        json.dump(row, fh)


def run(method: str, tree: str, args) -> dict:
    out = tempfile.NamedTemporaryFile(prefix="batch_cost_", suffix=".json", delete=False).name
    cmd = [sys.executable, os.path.abspath(__file__), "--child", method, "--out", out,
           "--threads", str(args.threads), "--batches", str(args.batches),
           "--nodes", str(args.nodes), "--cache-dir", args.cache_dir]
    if args.graph_cache:
        cmd += ["--graph-cache", args.graph_cache]
    env = dict(os.environ, PYTHONPATH=tree, OMP_NUM_THREADS=str(args.threads))
    subprocess.run(cmd, env=env, check=True)
    with open(out) as fh:
        row = json.load(fh)
    os.unlink(out)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=None, help="directory holding the other pyagc (required)")
    parser.add_argument("--methods", nargs="+", default=["NS4GC", "CCASSG", "MinCut"])
    parser.add_argument("--nodes", type=int, default=200_000)
    parser.add_argument("--graph-cache", default=None, help="the full-size graph's cache file")
    parser.add_argument("--cache-dir", default=tempfile.gettempdir())
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if not args.before:
        parser.error("--before DIR (a directory holding the other pyagc package) is required")
    print("| method | config | seeds | sampled nodes | before step s | after step s | "
          "before / after |\n|---|---|---|---|---|---|---|", flush=True)
    for method in args.methods:
        before = run(method, os.path.abspath(args.before), args)
        after = run(method, ROOT, args)
        b, a = before["steps"][-1], after["steps"][-1]
        print(f"| {method} | {after['config']} | {after['seeds']} | {a['nodes']:,} | "
              f"{b['step_s']:.2f} | {a['step_s']:.2f} | {b['step_s'] / a['step_s']:.1f}x |",
              flush=True)


if __name__ == "__main__":
    main()
