"""S3GC's feature maps in float32 and in bfloat16 at Products-sized batches, back to back in one
process: CPU seconds per training batch, the gradient's difference on one batch, and NMI after
each epoch.

    python benchmarks/bench_s3gc_bf16.py [--nodes 200000] [--epochs 3] [--threads 1] \
        [--cache-dir /tmp]

The graph is :func:`pyagc.data.make_products_like` with ``--nodes`` nodes (cached under
``--cache-dir``, ``benchmarks/products_graph.py``), the model S3GC built from the shipped YAML's
``ogbn-products`` entry (2-layer MLPs of width 256, walk length 5, context 6, 10 walks per
node, batch 16,384, PPR k_hop 2) as the runner does (``from_config``, ``prepare``,
``train_loader``), trained with Adam (the YAML's lr) for ``--epochs`` epochs once with
``bf16=False`` and once with ``bf16=True``, same seed. A batch of 16,384 seeds holds more
distinct nodes than :attr:`S3GC.bf16_min_rows` from ~150,000 graph nodes up, so that is where
the default (``bf16=None``) takes bfloat16 on a CPU with native bfloat16 products
(:func:`pyagc.ops.bf16_matmul_is_fast`). After each epoch: KMeans (TorchKMeans, n_init 10,
seed 0) on the L2-normalised ``embed()``, NMI against the graph's blocks. Before training:
the relative difference of the two precisions' gradients on the same first batch.

With ``--cora-root DIR`` (a writable copy of the datasets folder) the documented Cora call
(``bench_documented.py``'s S3GC row: the reference example with the published settings, 200
epochs) runs instead, once per seed with ``bf16=False`` and once with ``bf16=True`` forced:
bfloat16's effect on the quality S3GC reaches when it trains to the end, which a few epochs on
the large graph cannot show.

Measured (one thread, AMD EPYC with AVX-512 BF16 and no AMX, the other core busy with another
job). ``--nodes 200000 --epochs 3``: relative gradient difference on the first batch 3.37e-3;

| maps | epoch | CPU s per batch | batches | NMI |
|---|---|---|---|---|
| float32 | 1 | 10.37 | 13 | 4.40 |
| float32 | 2 | 10.78 | 13 | 2.61 |
| float32 | 3 | 11.37 | 13 | 2.23 |
| bfloat16 | 1 | 7.66 | 13 | 4.34 |
| bfloat16 | 2 | 8.22 | 13 | 2.71 |
| bfloat16 | 3 | 7.88 | 13 | 2.23 |

(1.37x per batch; the N(0, 1) node table dominates the embedding in the first epochs, hence the
low NMI of both.) ``--cora-root DIR --seeds 0 1 2 3 4``: float32 NMI 55.32 +- 1.16, ACC 70.97,
39.4 CPU s per run; bfloat16 NMI 55.45 +- 0.97, ACC 71.04, 26.0 CPU s per run (seeds 0, 1, 2
and 4 give the same labels in both; seed 3 53.79 against 54.43).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def gradient_of(model, batch) -> torch.Tensor:
    model.zero_grad(set_to_none=True)
    model.loss(*batch).total.backward()
    grads = torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None])
    model.zero_grad(set_to_none=True)
    return grads


def cora(args) -> None:
    import functools
    import statistics

    import bench_documented as bd
    import pyagc.models.s3gc as s3gc_module

    lib = bd._library()
    data = bd._load(lib, "Cora", args.cora_root)
    original = s3gc_module.S3GC
    rows = {False: [], True: []}
    print("| maps | seed | NMI | ACC | CPU s |\n|---|---|---|---|---|")
    try:
        for seed in args.seeds:
            for bf16 in (False, True):
                s3gc_module.S3GC = functools.partial(original, bf16=bf16)
                out = bd.run_one(lib, "s3gc", data, seed, "pyagc")
                rows[bf16].append(out)
                print(f"| {'bfloat16' if bf16 else 'float32'} | {seed} | {out['NMI']:.2f} | "
                      f"{out['ACC']:.2f} | {out['cpu']:.1f} |", flush=True)
    finally:
        s3gc_module.S3GC = original
    for bf16, runs in rows.items():
        nmi = [r["NMI"] for r in runs]
        acc = [r["ACC"] for r in runs]
        spread = statistics.stdev(nmi) if len(nmi) > 1 else 0.0
        print(f"{'bfloat16' if bf16 else 'float32'}: NMI {statistics.mean(nmi):.2f} +- "
              f"{spread:.2f}, ACC {statistics.mean(acc):.2f}, "
              f"{statistics.mean(r['cpu'] for r in runs):.1f} CPU s per run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache-dir", default=tempfile.gettempdir())
    parser.add_argument("--cora-root", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.cora_root:
        cora(args)
        return

    from products_graph import load_products_like
    from pyagc.clusters import TorchKMeans
    from sklearn.metrics import normalized_mutual_info_score as nmi_score
    from pyagc.models import S3GC
    from pyagc.ops import bf16_matmul_is_fast
    from pyagc.runner.config import resolve_config

    data = load_products_like(os.path.join(args.cache_dir, f"products_like_{args.nodes}.pt"),
                              args.nodes)
    config = resolve_config("S3GC", "ogbn-products")
    train = config["train"]
    k = int(data.y.max()) + 1

    def build(bf16: bool):
        torch.manual_seed(0)
        model = S3GC.from_config(dict(config["model"], bf16=bf16), data, k, seed=0)
        model.prepare(data)
        loader = model.train_loader(data, mini_batch=True, batch_size=train["batch_size"],
                                    seed=0)
        return model, loader

    first = {}
    for bf16 in (False, True):
        model, loader = build(bf16)
        model.train()
        first[bf16] = gradient_of(model, next(iter(loader)))
    rel = float((first[True] - first[False]).norm() / first[False].norm())

    print(f"S3GC, Products-like graph of {data.num_nodes:,} nodes, {data.num_edges:,} edges, "
          f"{k} blocks; batch {train['batch_size']}, {args.threads} thread(s); fast bfloat16 "
          f"products on this CPU: {bf16_matmul_is_fast(torch.device('cpu'))}; relative "
          f"gradient difference bfloat16 vs float32 on the first batch: {rel:.2e}\n")
    print("| maps | epoch | CPU s per batch | batches | NMI |\n|---|---|---|---|---|")
    for bf16 in (False, True):
        model, loader = build(bf16)
        optimizer = torch.optim.Adam(model.parameters(), lr=train["lr"])
        for epoch in range(1, args.epochs + 1):
            model.train()
            cpu, batches = time.process_time(), 0
            for batch in loader:
                model._step(optimizer, model.loss(*batch), epoch, "bench")
                batches += 1
            per_batch = (time.process_time() - cpu) / batches
            z = torch.nn.functional.normalize(model.embed(), dim=1)
            pred = TorchKMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(z)
            nmi = 100 * nmi_score(data.y.numpy(), torch.as_tensor(pred).numpy())
            print(f"| {'bfloat16' if bf16 else 'float32'} | {epoch} | {per_batch:.2f} | "
                  f"{batches} | {nmi:.2f} |", flush=True)


if __name__ == "__main__":
    main()
