"""GCSBM on a real graph, one seed: the training trajectory (loss parts, NMI, modularity,
conductance, block sizes of the argmax) and, at the end, the SBM loss of three assignments
scored by the same head — the trained soft ``P``, its argmax (one-hot) and the true labels
(one-hot) — which shows whether the soft objective prefers mixed memberships to any hard
partition. Built from the packaged YAML like ``pyagc run`` (``--set`` overrides it), trained
full-batch with Adam for a fixed number of epochs (no early stopping), one thread.

    python benchmarks/bench_gcsbm_trajectory.py --root /tmp/datasets --set model.variant=poisson-dc \
        model.alpha=0 model.collapse=0
"""
from __future__ import annotations

import argparse
import time

import torch
from torch.nn.functional import one_hot

from pyagc.metrics import label_metrics
from pyagc.metrics.structure import conductance, modularity
from pyagc.models import GCSBM
from pyagc.runner.config import resolve_config
from pyagc.runner.experiment import load_data
from pyagc.utils import set_seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--dataset", default="Cora")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--set", nargs="*", default=[], help="KEY=VALUE config overrides")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_data(args.dataset, root=args.root)[0]
    cfg = resolve_config("GCSBM", args.dataset, overrides=args.set)
    k = int(data.y.max()) + 1
    set_seed(args.seed)
    model = GCSBM.from_config(cfg["model"], data, k, seed=args.seed)
    model.prepare(data)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["train"]["lr"],
                           weight_decay=cfg["train"]["weight_decay"])
    ei = data.edge_index
    print(f"{args.dataset}, seed {args.seed}, {cfg['model']['variant']}, alpha "
          f"{cfg['model']['alpha']}, collapse {cfg['model'].get('collapse')}, lr "
          f"{cfg['train']['lr']}\n")
    print("| epoch | loss | parts | NMI | ACC | Mod | Cond | argmax block sizes | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        out = model.loss(data.x, ei)
        opt.zero_grad()
        out.total.backward()
        opt.step()
        if epoch % args.every == 0 or epoch == 1:
            labels = model.infer_full(data)
            met = label_metrics(data.y, labels, metrics=("NMI", "ACC"))
            sizes = sorted(torch.bincount(labels, minlength=k).tolist(), reverse=True)
            parts = ", ".join(f"{n} {v:.4f}" for n, v in out.components.items())
            print(f"| {epoch} | {float(out.total.detach()):.4f} | {parts} | "
                  f"{100 * met['NMI']:.1f} | {100 * met['ACC']:.1f} | "
                  f"{100 * modularity(ei, labels):.1f} | {100 * conductance(ei, labels):.1f} | "
                  f"{sizes} | {time.perf_counter() - start:.0f} |", flush=True)
    model.eval()
    head = model.cluster_head
    with torch.no_grad():
        soft = head.assign(model.embed(data.x, ei))
        rows = {"trained soft P": soft,
                "its argmax (one-hot)": one_hot(soft.argmax(dim=1), k).to(soft.dtype),
                "true labels (one-hot)": one_hot(data.y, k).to(soft.dtype)}
        print("\n| assignment | nll_edges | nll_non_edges | reg | mean max prob |")
        print("|---|---|---|---|---|")
        for name, s in rows.items():
            gen = torch.Generator().manual_seed(1)  # the same non-edge draws for each row
            pos, neg, reg = head.assignment_terms(s, ei, generator=gen)
            print(f"| {name} | {float(pos):.4f} | {float(neg):.4f} | {float(reg):.4f} | "
                  f"{float(s.max(dim=1).values.mean()):.3f} |")


if __name__ == "__main__":
    main()
