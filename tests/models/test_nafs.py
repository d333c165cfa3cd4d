import pytest
import torch
import torch.nn.functional as F

from pyagc.clusters import KMeansClusterHead
from pyagc.data import make_csbm
from pyagc.metrics import label_metrics
from pyagc.models import NAFS


def nafs_dense(x, edge_index, n, K, r, distance):
    """Reference: store every hop, stationary state per component from the dense limit."""
    a = torch.zeros(n, n, dtype=torch.float64)
    a[edge_index[1], edge_index[0]] = 1.0
    a += torch.eye(n, dtype=torch.float64)
    d = a.sum(1)
    a_r = torch.diag(d ** (r - 1)) @ a @ torch.diag(d ** (-r))
    x_inf = torch.linalg.matrix_power(a_r, 4000) @ x           # numerically converged limit
    hops = [x]
    for _ in range(K):
        hops.append(a_r @ hops[-1])
    if distance == "cosine":
        dist = torch.stack([1 - F.cosine_similarity(h, x_inf, dim=1) for h in hops], 1)
    else:
        dist = torch.stack([(h - x_inf).norm(dim=1) for h in hops], 1)
    weights = torch.softmax(dist, dim=1)
    return sum(weights[:, k:k + 1] * hops[k] for k in range(K + 1))


@pytest.fixture
def two_components():
    # a 5-cycle with a chord and a separate triangle (undirected)
    und = torch.tensor([[0, 1, 2, 3, 4, 0, 5, 6, 7], [1, 2, 3, 4, 0, 2, 6, 7, 5]])
    ei = torch.cat([und, und.flip(0)], 1)
    x = torch.rand(8, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return ei, x


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("r", [0.0, 0.3, 0.5])
def test_matches_dense_reference(two_components, distance, r):
    ei, x = two_components
    out = NAFS(K=5, r_list=[r], ensemble="mean", distance=distance).embed(x, ei)
    torch.testing.assert_close(out, nafs_dense(x, ei, 8, 5, r, distance), rtol=1e-6, atol=1e-8)


def test_ensembles(two_components):
    ei, x = two_components
    parts = [NAFS(K=3, r_list=[r], ensemble="mean").embed(x, ei) for r in (0.1, 0.4)]
    cat = NAFS(K=3, r_list=[0.1, 0.4], ensemble="concat").embed(x, ei)
    assert cat.shape == (8, 6)
    torch.testing.assert_close(cat, torch.cat(parts, 1))
    torch.testing.assert_close(NAFS(K=3, r_list=[0.1, 0.4], ensemble="mean").embed(x, ei),
                               (parts[0] + parts[1]) / 2)
    torch.testing.assert_close(NAFS(K=3, r_list=[0.1, 0.4], ensemble="max").embed(x, ei),
                               torch.maximum(parts[0], parts[1]))
    assert NAFS(K=0, r_list=[0.2]).embed(x, ei).equal(x)


def test_errors():
    with pytest.raises(ValueError, match="ensemble"):
        NAFS(ensemble="sum")
    with pytest.raises(ValueError, match="distance"):
        NAFS(distance="l1")
    with pytest.raises(ValueError, match="r_list"):
        NAFS(r_list=[])
    with pytest.raises(TypeError, match="unexpected"):
        NAFS().embed(torch.ones(2, 2), torch.tensor([[0], [1]]), foo=1)


def test_recovers_planted_partition():
    data = make_csbm(600, 3, avg_degree=10, homophily=0.9, num_features=16,
                     feature_signal=0.5, seed=3)
    z = F.normalize(NAFS(K=10, ensemble="mean").embed(data.x, data.edge_index), dim=1)
    pred = KMeansClusterHead(3, n_init=3, random_state=0).fit_predict(z)
    assert label_metrics(data.y, pred, metrics=("NMI",))["NMI"] > 0.9
