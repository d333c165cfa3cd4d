"""Why VGAE sat below GAE on Cora: the reparametrisation noise at initialisation, not the KL.

Every row trains the documented call ``VGAE(VariationalEncoder(F, hidden_channels=32,
out_channels=16), seed=seed, std_scale=...)`` (the paper's 32-16 GCN, Adam lr 0.01, full batch,
no early stopping, last weights) and clusters ``embed`` (= ``mu``) by
``TorchKMeans(k, n_init=10, max_iter=300, random_state=seed)`` on L2-normalised rows, at
several epochs. Variants, on the same seeds:

* ``GAE 32-16`` / ``GAE 32-32``: the deterministic twin (same widths) and GAE.yaml's widths;
* ``no noise, no KL``: the two-headed encoder trained as a GAE on ``mu`` (upper bound);
* ``std_scale=1`` (the paper's parametrisation: sigma starts at 1), KL weight 1/N and 0
  (noise only: is it the KL or the noise?), and on the paper's unnormalised binary features;
* ``std_scale=0.1`` (the class default), KL weight 1/N and 2/N (the authors' relative weight:
  their reconstruction is half of ours);
* ``32-32``: VGAE at GAE.yaml's widths, with and without the variational part.

Columns: NMI (%) mean ± std over the seeds at each checkpoint epoch, the final mean sigma,
and the mean std of ``mu``'s entries at initialisation.

    python benchmarks/bench_vgae_noise.py --root /tmp/data --seeds 0 1 2 --epochs 100 200 400
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from pyagc.clusters import TorchKMeans
from pyagc.data import get_dataset
from pyagc.encoders import VariationalEncoder, create_tuned_gnn
from pyagc.metrics import label_metrics
from pyagc.models import GAE, VGAE


class _WeightedVGAE(VGAE):
    """VGAE whose KL term is scaled by ``kl_weight`` (1: the class's ``KL / N``), with the
    option of training on ``mu`` without noise."""

    def __init__(self, *args, kl_weight: float = 1.0, noise: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kl_weight, self.noise = kl_weight, noise

    def loss(self, x, edge_index, edge_weight=None):
        mu, logstd = self._mu_logstd(x, edge_index, edge_weight)
        z = self.reparametrize(mu, logstd) if self.noise else mu
        kl = self.kl_loss(mu, logstd) / mu.size(0)
        return self.recon_loss(z, edge_index) + self.kl_weight * kl


#: name -> (model kind, options, raw binary features?)
VARIANTS: List[Tuple[str, str, dict, bool]] = [
    ("GAE 32-16 (deterministic twin)", "gae", {"out": 16}, False),
    ("GAE 32-32 (GAE.yaml widths)", "gae", {"out": 32}, False),
    ("VGAE no noise, no KL", "vgae", {"noise": False, "kl_weight": 0.0}, False),
    ("VGAE std_scale=1 (paper), KL/N", "vgae", {"std_scale": 1.0}, False),
    ("VGAE std_scale=1, KL weight 0", "vgae", {"std_scale": 1.0, "kl_weight": 0.0}, False),
    ("VGAE std_scale=1, binary features", "vgae", {"std_scale": 1.0}, True),
    ("VGAE std_scale=0.1 (default), KL/N", "vgae", {}, False),
    ("VGAE std_scale=0.1, KL 2/N (authors')", "vgae", {"kl_weight": 2.0}, False),
    ("VGAE 32-32 no noise, no KL", "vgae", {"out": 32, "noise": False, "kl_weight": 0.0}, False),
    ("VGAE 32-32 std_scale=0.1, KL/N", "vgae", {"out": 32}, False),
]


def _nmi(z: torch.Tensor, y: torch.Tensor, k: int, seed: int) -> float:
    pred = TorchKMeans(n_clusters=k, n_init=10, max_iter=300,
                       random_state=seed).fit_predict(F.normalize(z, dim=1))
    return 100 * label_metrics(y, pred, metrics=("NMI",))["NMI"]


def _run(kind: str, opts: dict, data: Data, y: torch.Tensor, k: int, seed: int,
         checkpoints: List[int]) -> Tuple[Dict[int, float], Optional[float], Optional[float]]:
    torch.manual_seed(seed)
    opts = dict(opts)
    if kind == "gae":
        enc = create_tuned_gnn("gcn", data.num_features, 32, 2, out_channels=opts.pop("out"))
        model = GAE(enc, seed=seed)
    else:
        enc = VariationalEncoder(data.num_features, hidden_channels=32,
                                 out_channels=opts.pop("out", 16))
        model = _WeightedVGAE(enc, seed=seed, **opts)
    mu_std0 = None
    if kind != "gae":
        with torch.no_grad():
            mu_std0 = float(model.encoder(data.x, data.edge_index)[0].std())
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    scores, sigma = {}, None
    for epoch in range(1, max(checkpoints) + 1):
        model.train_full(data, opt, epoch, verbose=False)
        if epoch in checkpoints:
            model.eval()
            with torch.no_grad():
                z = model.embed(data.x, data.edge_index)
                if kind != "gae":
                    sigma = float(model._logstd.exp().mean())
            scores[epoch] = _nmi(z, y, k, seed)
    return scores, sigma, mu_std0


def _fmt(values: List[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {sd:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="writable copy of the datasets folder")
    parser.add_argument("--dataset", default="Cora")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, nargs="+", default=[100, 200, 400],
                        help="checkpoint epochs (training runs to the last)")
    parser.add_argument("--per-seed", action="store_true", help="print every run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    graphs = {}
    for raw in (False, True):
        x, edge_index, y = get_dataset(args.dataset, args.root, normalize_features=not raw)[:3]
        graphs[raw] = Data(x=x, edge_index=edge_index)
    k = int(y.max()) + 1
    checkpoints = sorted(set(args.epochs))
    head = " | ".join(f"NMI @{e}" for e in checkpoints)
    print(f"{args.dataset}, seeds {args.seeds}, KMeans on mu (embed), last weights\n")
    print(f"| variant | {head} | final sigma | std(mu) at init | CPU s/run |")
    print("|---" * (len(checkpoints) + 4) + "|")
    for name, kind, opts, raw in VARIANTS:
        per_epoch: Dict[int, List[float]] = {e: [] for e in checkpoints}
        sigmas, mu0s, cpu = [], [], []
        for seed in args.seeds:
            start = time.process_time()
            scores, sigma, mu_std0 = _run(kind, opts, graphs[raw], y, k, seed, checkpoints)
            cpu.append(time.process_time() - start)
            for e in checkpoints:
                per_epoch[e].append(scores[e])
            if sigma is not None:
                sigmas.append(sigma)
                mu0s.append(mu_std0)
            if args.per_seed:
                print(f"  {name} seed {seed}: " + ", ".join(
                    f"@{e} {scores[e]:.2f}" for e in checkpoints), flush=True)
        cells = " | ".join(_fmt(per_epoch[e]) for e in checkpoints)
        sig = f"{statistics.mean(sigmas):.3f}" if sigmas else "-"
        mu0 = f"{statistics.mean(mu0s):.4f}" if mu0s else "-"
        print(f"| {name} | {cells} | {sig} | {mu0} | {statistics.mean(cpu):.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
