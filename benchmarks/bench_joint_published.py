"""MinCut / Neuromap / GCSBM side by side with the published pyagc 1.1.2: the documented call,
the same code, the same data, one thread each, back to back per seed.

Each seed runs one small program twice, once under our interpreter (with this checkout first on
``PYTHONPATH``) and once under ``--published-python`` (a separate venv holding the published
library): PyG's Planetoid with ``NormalizeFeatures``, ``create_tuned_gnn(...)`` and the model
class built as the reference documentation shows with the hyperparameters of our packaged YAML
(for MinCut and Neuromap these are the published Cora ones; a keyword the library's class does
not take, e.g. our GCSBM's ``collapse``, is left out for it and named in the per-seed line), Adam, ``train_full`` for at most
``epochs`` epochs with early stopping after ``patience`` epochs without a lower loss, labels of
the lowest-loss epoch (``forward`` in eval mode). Time = model construction to labels (imports and
data loading excluded). Metrics (NMI, ACC, Mod, Cond) are computed here, with our metrics, for
both label vectors. Prints a Markdown table with the time ratio ours / published.

``--trajectory EPOCHS`` instead starts both libraries from the same initial weights (the
published model's, loaded into ours, built with ``head_init='random'`` so that the
loaded head is kept) and the same dropout seed, and prints the training loss of
both per epoch: equal up to float rounding means the same objective, optimiser and encoder.

    python benchmarks/bench_joint_published.py --root /tmp/data --published-python \\
        /work/pubvenv/bin/python --methods MinCut Neuromap --seeds 0 1 2 3 4
    python benchmarks/bench_joint_published.py ... --methods GCSBM --variant bernoulli
    python benchmarks/bench_joint_published.py ... --methods MinCut Neuromap --trajectory 200

``--root``: a writable copy of the Planetoid folder (PyG writes ``processed/`` beside ``raw/``);
each library gets its own copy under it (``<root>/ours``, ``<root>/published``) because the two
PyG versions may store ``processed/`` differently.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import torch

# Runs under either library (measurement only): the documented public API.
SNIPPET = r'''
import copy, inspect, json, sys, time, torch
cfg = json.loads(sys.argv[1])
torch.set_num_threads(1)
from pyagc import models
from pyagc.encoders import create_tuned_gnn
from pyagc.utils import set_seed
from torch_geometric.datasets import Planetoid
import torch_geometric.transforms as T
from torch_geometric.data import Data
d = Planetoid(cfg["root"], cfg["dataset"], transform=T.NormalizeFeatures())[0]
data = Data(x=d.x, edge_index=d.edge_index)
k = int(d.y.max()) + 1
set_seed(cfg["seed"])
t0 = time.perf_counter()
enc_cfg = dict(cfg["encoder"]); gnn_type = enc_cfg.pop("gnn_type")
enc = create_tuned_gnn(gnn_type, in_channels=d.num_features, **enc_cfg)
cls = getattr(models, cfg["method"])
# Only the keywords this library's class takes (our YAML may carry extras, e.g. GCSBM's collapse).
accepted = inspect.signature(cls).parameters
kwargs = {key: v for key, v in cfg["model"].items() if key in accepted}
dropped = sorted(set(cfg["model"]) - set(kwargs))
model = cls(enc, enc_cfg["hidden_channels"], k, **kwargs)
opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
best, bad, state, epoch = float("inf"), 0, None, 0
for epoch in range(1, cfg["epochs"] + 1):
    model.train()
    loss = float(model.train_full(data, opt, epoch, verbose=False))
    if loss < best:
        best, bad, state = loss, 0, copy.deepcopy(model.state_dict())
    else:
        bad += 1
        if cfg["patience"] and bad >= cfg["patience"]:
            break
t1 = time.perf_counter()
model.load_state_dict(state)
model.eval()
with torch.no_grad():
    pred = model(data.x, data.edge_index)
t2 = time.perf_counter()
torch.save({"pred": pred.cpu(), "y": d.y, "edge_index": d.edge_index}, cfg["out"])
print(json.dumps({"library": models.__file__, "train": t1 - t0, "total": t2 - t0, "epochs": epoch,
                  "loss": best, "dropped": ",".join(dropped) or "-"}))
'''

# Same initial weights in both libraries (the published head's centres are our head's weight):
# the published run saves its initial state, ours loads it; the same dropout seed for both.
TRAJECTORY = r'''
import inspect, json, sys, torch
cfg = json.loads(sys.argv[1])
torch.set_num_threads(1)
from pyagc import models
from pyagc.encoders import create_tuned_gnn
from torch_geometric.datasets import Planetoid
import torch_geometric.transforms as T
from torch_geometric.data import Data
d = Planetoid(cfg["root"], cfg["dataset"], transform=T.NormalizeFeatures())[0]
data = Data(x=d.x, edge_index=d.edge_index)
torch.manual_seed(cfg["seed"])
enc_cfg = dict(cfg["encoder"]); gnn_type = enc_cfg.pop("gnn_type")
enc = create_tuned_gnn(gnn_type, in_channels=d.num_features, **enc_cfg)
cls = getattr(models, cfg["method"])
accepted = inspect.signature(cls).parameters
model = cls(enc, enc_cfg["hidden_channels"], int(d.y.max()) + 1,
            **{key: v for key, v in cfg["model"].items() if key in accepted})
rename = ("head.cluster_centers", "cluster_head.lin.weight")
if cfg["save"]:
    torch.save({k.replace(*rename): v for k, v in model.state_dict().items()}, cfg["state"])
else:
    model.load_state_dict(torch.load(cfg["state"]))
opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
torch.manual_seed(cfg["seed"] + 1)
losses = [float(model.train_full(data, opt, e, verbose=False)) for e in range(1, cfg["epochs"] + 1)]
print(json.dumps(losses))
'''


def trajectory(args, roots, checkout) -> None:
    """Loss per epoch from the same initial weights and dropout seed, ours vs published."""
    print("| Method | epochs | published loss at 1 / 100 / last | ours at 1 / 100 / last | "
          "max abs difference |")
    print("|---|---|---|---|---|")
    for method in args.methods:
        encoder, model, train = _config(method, args.variant if method == "GCSBM" else None)
        with tempfile.TemporaryDirectory() as tmp:
            losses = {}
            for side, python, path in (("published", args.published_python, None),
                                       ("ours", sys.executable, checkout)):
                # Ours keeps the loaded head (no KMeans start); the published class has no
                # head_init and is given only the keywords it takes.
                payload = {"root": roots[side], "dataset": args.dataset, "seed": args.seeds[0],
                           "method": method, "encoder": encoder,
                           "model": dict(model, head_init="random"),
                           "lr": train["lr"], "weight_decay": train["weight_decay"],
                           "epochs": args.trajectory, "save": side == "published",
                           "state": os.path.join(tmp, "state.pt")}
                losses[side] = _run(python, path, payload, TRAJECTORY)
        pub, ours = losses["published"], losses["ours"]
        pick = lambda v: " / ".join(f"{v[i]:.5f}" for i in (0, min(99, len(v) - 1), -1))
        diff = max(abs(a - b) for a, b in zip(pub, ours))
        print(f"| {method} | {len(pub)} | {pick(pub)} | {pick(ours)} | {diff:.2e} |", flush=True)


def _config(method: str, variant: str | None):
    from pyagc.runner.config import resolve_config
    cfg = resolve_config(method, "Cora")
    model = {k: v for k, v in cfg["model"].items() if k != "encoder"}
    if variant is not None:
        model["variant"] = variant
    model.pop("seed", None)
    encoder = {k: v for k, v in cfg["model"]["encoder"].items() if v is not None}
    train = cfg["train"]
    return encoder, model, train


def _run(python: str, env_path: str | None, payload: dict, program: str = SNIPPET):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if env_path is None:
        env.pop("PYTHONPATH", None)
    else:
        env["PYTHONPATH"] = env_path
    # cwd outside any checkout: ``python -c`` puts the working directory first on sys.path.
    out = subprocess.run([python, "-c", program, json.dumps(payload)], capture_output=True,
                         text=True, env=env, cwd=tempfile.gettempdir())
    if out.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _metrics(path: str) -> dict:
    from pyagc.metrics import label_metrics, structure_metrics
    saved = torch.load(path)
    m = label_metrics(saved["y"], saved["pred"], metrics=("NMI", "ACC"))
    m.update(structure_metrics(saved["edge_index"], saved["pred"]))
    return {"NMI": 100 * m["NMI"], "ACC": 100 * m["ACC"],
            "Mod": 100 * m["Mod"], "Cond": 100 * m["Cond"]}


def _fmt(values) -> str:
    std = statistics.pstdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {std:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="folder holding Cora/raw (copied below)")
    parser.add_argument("--published-python", required=True)
    parser.add_argument("--dataset", default="Cora")
    parser.add_argument("--methods", nargs="+", default=["MinCut", "Neuromap"])
    parser.add_argument("--variant", default=None, help="GCSBM variant (default: the YAML's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=None, help="default: the YAML's")
    parser.add_argument("--trajectory", type=int, default=0, metavar="EPOCHS",
                        help="instead: losses per epoch from the same initial weights")
    parser.add_argument("--only", choices=["both", "ours", "published"], default="both")
    args = parser.parse_args()
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    roots = {}
    for side in ("ours", "published"):
        roots[side] = os.path.join(args.root, side)
        src = os.path.join(args.root, args.dataset, "raw")
        dst = os.path.join(roots[side], args.dataset, "raw")
        if not os.path.isdir(dst):
            shutil.copytree(src, dst)
    if args.trajectory:
        trajectory(args, roots, checkout)
        return
    sides = {"ours": (sys.executable, checkout), "published": (args.published_python, None)}
    if args.only != "both":
        sides = {args.only: sides[args.only]}
    rows = []
    for method in args.methods:
        encoder, model, train = _config(method, args.variant if method == "GCSBM" else None)
        res = {side: [] for side in sides}
        for seed in args.seeds:
            for side, (python, path) in sides.items():
                with tempfile.TemporaryDirectory() as tmp:
                    out = os.path.join(tmp, "pred.pt")
                    payload = {"root": roots[side], "dataset": args.dataset, "seed": seed,
                               "method": method, "encoder": encoder, "model": model,
                               "lr": train["lr"], "weight_decay": train["weight_decay"],
                               "epochs": args.epochs or train["epochs"], "patience": train["patience"],
                               "out": out}
                    timing = _run(python, path, payload)
                    timing.update(_metrics(out))
                res[side].append(timing)
                print(f"{method} seed {seed} {side}: " + ", ".join(
                    f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in timing.items()), flush=True)
        rows.append((method + (f" ({model.get('variant')})" if method == "GCSBM" else ""),
                     res))
    print(f"\n{args.dataset}, seeds {args.seeds}, documented call, 1 thread each, back to back")
    print("| Method | library | NMI | ACC | Mod | Cond | epochs | s / run | ms / epoch | "
          "time ratio ours / published |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, res in rows:
        means = {side: statistics.mean(r["total"] for r in runs) for side, runs in res.items()}
        for side, runs in res.items():
            per_epoch = statistics.mean(1000 * r["train"] / r["epochs"] for r in runs)
            ratio = (f"{means['ours'] / means['published']:.2f}"
                     if side == "ours" and "published" in means else "")
            print(f"| {name} | {side} | " + " | ".join(_fmt([r[k] for r in runs])
                                                      for k in ("NMI", "ACC", "Mod", "Cond"))
                  + f" | {statistics.mean(r['epochs'] for r in runs):.0f} | {means[side]:.1f}"
                  f" | {per_epoch:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
