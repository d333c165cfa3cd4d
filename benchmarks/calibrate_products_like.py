"""Calibration of ``make_products_like``: feature KMeans and SSGC NMI against homophily.

    python benchmarks/calibrate_products_like.py [--nodes 50000] [--homophily 0.15 0.2 0.22 0.25]

Builds :func:`pyagc.data.make_csbm` with Products' shape (47 blocks, 100 Gaussian features,
average degree 50) and the knobs of ``make_products_like`` (feature signal 0.25, Zipf block
sizes with exponent 1, power-law degrees with exponent 2.5), for each homophily given, and
prints the NMI of KMeans (n_init 3, seed 0, L2-normalised rows) on the raw features and on the
SSGC embedding (alpha=0.05, K=10). Products' published figures: 29.24 and 52.04. The table it
printed for the shipped choice is in ``benchmarks/bench_scale_nonparametric.py``.
"""
import argparse
import time

import torch
import torch.nn.functional as F
from sklearn.metrics import normalized_mutual_info_score

from pyagc.clusters import TorchKMeans
from pyagc.data import make_csbm
from pyagc.data.synthetic import PRODUCTS_SHAPE
from pyagc.models import SSGC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=50_000)
    parser.add_argument("--homophily", type=float, nargs="+", default=[0.15, 0.2, 0.22, 0.25])
    parser.add_argument("--signal", type=float, default=0.25)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    k = PRODUCTS_SHAPE["n_clusters"]

    def nmi(data, z):
        labels = TorchKMeans(n_clusters=k, n_init=3, random_state=0).fit_predict(
            F.normalize(z, dim=1))
        return 100 * normalized_mutual_info_score(data.y.numpy(), labels.numpy())

    print("| homophily | KMeans on features | SSGC | seconds |")
    print("|---|---|---|---|")
    for homophily in args.homophily:
        start = time.perf_counter()
        data = make_csbm(args.nodes, k, avg_degree=PRODUCTS_SHAPE["avg_degree"],
                         homophily=homophily, num_features=PRODUCTS_SHAPE["num_features"],
                         feature_signal=args.signal, degree_exponent=2.5, size_exponent=1.0,
                         seed=0)
        features = nmi(data, data.x)
        ssgc = nmi(data, SSGC(alpha=0.05, K=10).embed(data.x, data.edge_index))
        print(f"| {homophily} | {features:.1f} | {ssgc:.1f} | "
              f"{time.perf_counter() - start:.0f} |", flush=True)


if __name__ == "__main__":
    main()
