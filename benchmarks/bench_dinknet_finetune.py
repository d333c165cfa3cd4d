"""Where DinkNet's finetune moves the partition: the documented call on Cora, per seed.

For each seed the documented call (1-layer GCN 512, PReLU, one ``Linear`` projector,
``alpha=10``; pretrain 200 epochs at lr 0.01, centres by ``initialize_cluster_centers``) is
pretrained once; from that one state the script reports NMI / ACC and the largest cluster of

* ``init``: the nearest KMeans centre, before any finetuning;
* ``finetune``: after the documented finetune (50 epochs of Adam at lr 0.001, class defaults,
  ``dilation=1``), the labels ``infer_full`` returns;
* ``centre minimum``: the embedding held at the pretrained one and only the centres trained,
  by plain gradient descent on the finetune loss ``dilation + shrink`` until the assignment no
  longer changes (``--steps``), i.e. the partition the finetune loss itself prefers, free of
  optimiser effects and of encoder drift;
* ``dilation=0``: the documented finetune with the dilation term weighted 0.

    python benchmarks/bench_dinknet_finetune.py --root DIR --seeds 0 1 2 3 4

One thread, one process; about a minute per seed.
"""
from __future__ import annotations

import argparse
import copy
import statistics

import torch
from torch_geometric.data import Data

from pyagc.clusters.dink_head import dilation_loss, shrink_loss
from pyagc.data import get_dataset
from pyagc.encoders import create_tuned_gnn
from pyagc.metrics import label_metrics
from pyagc.models import DinkNet
from pyagc.utils import set_seed


def _score(y, pred, k):
    s = label_metrics(y, pred.cpu(), metrics=("NMI", "ACC"))
    return 100 * s["NMI"], 100 * s["ACC"], int(torch.bincount(pred, minlength=k).max())


def _finetune(model, data, epochs, rng_state):
    torch.set_rng_state(rng_state)
    model.initialize_cluster_centers(data, num_layers=1, verbose=False)
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    model.train()
    for epoch in range(1, epochs + 1):
        model.train_full(data, opt, epoch, verbose=False, pretrain=False)
    model.eval()
    with torch.no_grad():
        return model.infer_full(data)


def _centre_minimum(model, data, steps, lr, rng_state):
    """Centres only, encoder fixed: gradient descent on dilation + shrink."""
    torch.set_rng_state(rng_state)
    model.initialize_cluster_centers(data, num_layers=1, verbose=False)
    model.eval()
    head = model.cluster_head
    with torch.no_grad():
        z = model.embed(data.x, data.edge_index)
        start = head.cluster(z)
    opt = torch.optim.SGD([head.cluster_centers], lr=lr)
    for _ in range(steps):
        centers = head.centers()
        loss = model.dilation * dilation_loss(centers) + shrink_loss(z, centers)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return start, head.cluster(z)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, nargs=2, default=[200, 50],
                        metavar=("PRETRAIN", "FINETUNE"))
    parser.add_argument("--steps", type=int, default=2000,
                        help="gradient steps of the centre-only minimisation")
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()
    torch.set_num_threads(1)
    x, edge_index, y = get_dataset("Cora", args.root)[:3]
    data = Data(x=x, edge_index=edge_index, y=y, num_nodes=x.size(0))
    k = int(y.max()) + 1
    cols = ["init", "finetune", "centre minimum", "dilation=0"]
    rows = {c: [] for c in cols}
    print("| seed | " + " | ".join(f"{c} NMI / ACC (largest)" for c in cols) + " |")
    print("| :--- |" + " :--- |" * len(cols))
    for seed in args.seeds:
        set_seed(seed)
        enc = create_tuned_gnn("gcn", data.num_features, 512, num_layers=1, act="prelu",
                               act_last=True)
        base = DinkNet(enc, torch.nn.Linear(512, 512), k, 512, alpha=10.0)
        opt = torch.optim.Adam(base.parameters(), lr=0.01)
        base.train()
        for epoch in range(1, args.epochs[0] + 1):
            base.train_full(data, opt, epoch, verbose=False, pretrain=True)
        state = torch.get_rng_state()
        start, minimum = _centre_minimum(copy.deepcopy(base), data, args.steps, args.lr, state)
        finetuned = _finetune(copy.deepcopy(base), data, args.epochs[1], state)
        no_dil = copy.deepcopy(base)
        no_dil.dilation = 0.0
        finetuned0 = _finetune(no_dil, data, args.epochs[1], state)
        cells = []
        for col, pred in zip(cols, [start, finetuned, minimum, finetuned0]):
            nmi, acc, big = _score(y, pred, k)
            rows[col].append((nmi, acc))
            cells.append(f"{nmi:.2f} / {acc:.2f} ({big})")
        print(f"| {seed} | " + " | ".join(cells) + " |", flush=True)
    mean = [f"{statistics.mean(r[0] for r in rows[c]):.2f} / "
            f"{statistics.mean(r[1] for r in rows[c]):.2f}" for c in cols]
    print("| mean | " + " | ".join(mean) + " |")


if __name__ == "__main__":
    main()
