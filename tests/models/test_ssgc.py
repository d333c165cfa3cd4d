import pytest
import torch
import torch.nn.functional as F

from pyagc.clusters import KMeansClusterHead
from pyagc.data import make_csbm
from pyagc.metrics import label_metrics
from pyagc.models import SSGC



def test_matches_dense_reference(dense_adjacency):
    gen = torch.Generator().manual_seed(0)
    ei = torch.randint(0, 10, (2, 30), generator=gen)
    w = torch.rand(30, generator=gen) + 0.1
    x = torch.randn(10, 3, generator=gen, dtype=torch.float64)
    s = dense_adjacency(ei, 10, w)
    alpha, K = 0.2, 4
    ref = sum((1 - alpha) * torch.linalg.matrix_power(s, k) @ x + alpha * x
              for k in range(1, K + 1)) / K
    torch.testing.assert_close(SSGC(alpha, K=K)(x, ei, w), ref)
    torch.testing.assert_close(SSGC(1.0, K=3)(x, ei), x)      # alpha = 1: no smoothing


def test_cached_and_errors():
    ei = torch.tensor([[0, 1], [1, 0]])
    x = torch.eye(2)
    model = SSGC(0.1, K=2, cached=True)
    assert model(x, ei) is model(2 * x, ei)
    with pytest.raises(ValueError, match="alpha"):
        SSGC(1.5)
    with pytest.raises(ValueError, match="K must"):
        SSGC(0.1, K=1.5)


def test_recovers_planted_partition():
    data = make_csbm(600, 3, avg_degree=10, homophily=0.9, num_features=16,
                     feature_signal=0.5, seed=2)
    z = F.normalize(SSGC(0.05, K=8).embed(data.x, data.edge_index), dim=1)
    pred = KMeansClusterHead(3, n_init=3, random_state=0).fit_predict(z)
    assert label_metrics(data.y, pred, metrics=("NMI",))["NMI"] > 0.9
