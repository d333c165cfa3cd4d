import pytest
import torch
import torch.nn.functional as F

from pyagc.clusters import KMeansClusterHead
from pyagc.data import make_csbm
from pyagc.metrics import label_metrics
from pyagc.models import SAGSC
from pyagc.models.sagsc import quadratic_feature_map
from pyagc.ops import normalized_adjacency


def test_feature_map_reproduces_kernel():
    u = torch.randn(7, 4, dtype=torch.float64)
    q = quadratic_feature_map(u, 0.3)
    assert q.shape == (7, 1 + 4 + 10)
    torch.testing.assert_close(q @ q.T, (u @ u.T + 0.3) ** 2)
    scale = torch.rand(7, dtype=torch.float64) + 0.1
    torch.testing.assert_close(quadratic_feature_map(u, 0.3, row_scale=scale), scale[:, None] * q)


@pytest.mark.parametrize("normalization", ["rw", "sym"])
def test_matches_dense_pipeline(normalization):
    data = make_csbm(120, 3, avg_degree=6, num_features=10, seed=0)
    x = data.x.double()
    k, p, c = 3, 2, 2 ** -0.5
    z = SAGSC(p, k, normalization=normalization, chunk_size=50).embed(x, data.edge_index)
    r = 0.0 if normalization == "rw" else 0.5
    s = normalized_adjacency(data.edge_index, 120, r=r, dtype=torch.float64).to_dense()
    h = torch.linalg.matrix_power(s, p) @ x
    h = h - h.mean(0)
    u = torch.linalg.svd(h, full_matrices=False)[0][:, :k]
    q = quadratic_feature_map(u, c)
    m = q @ q.T                                             # dense N x N only in the test
    q_tilde = q / m.sum(1).sqrt()[:, None]
    ref = torch.linalg.svd(q_tilde, full_matrices=False)[0][:, 1:k + 1]
    assert z.shape == (120, k)
    # same subspace as the dense computation (singular vectors are defined up to sign)
    torch.testing.assert_close(z @ z.T, ref @ ref.T, atol=1e-6, rtol=0)


def test_deterministic_and_errors():
    data = make_csbm(100, 2, num_features=8, seed=0)
    a = SAGSC(2, 2).embed(data.x, data.edge_index)
    assert torch.equal(a, SAGSC(2, 2).embed(data.x, data.edge_index))
    with pytest.raises(ValueError, match="exceeds"):
        SAGSC(2, 9).embed(data.x, data.edge_index)
    with pytest.raises(ValueError, match="p must"):
        SAGSC(-1, 2)
    with pytest.raises(ValueError, match="normalization"):
        SAGSC(1, 2, normalization="col")


def test_recovers_planted_partition():
    data = make_csbm(600, 3, avg_degree=10, homophily=0.9, num_features=16,
                     feature_signal=0.5, seed=4)
    z = F.normalize(SAGSC(3, 3).embed(data.x, data.edge_index), dim=1)
    pred = KMeansClusterHead(3, n_init=3, random_state=0).fit_predict(z)
    assert label_metrics(data.y, pred, metrics=("NMI",))["NMI"] > 0.9
