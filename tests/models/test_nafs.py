import pytest
import torch
import torch.nn.functional as F

from pyagc.clusters import KMeansClusterHead
from pyagc.data import make_csbm
from pyagc.metrics import label_metrics
from pyagc.models import NAFS


def nafs_dense(x, edge_index, n, K, r, distance, reference):
    """Reference: store every hop; the stationary state per component from the dense limit."""
    a = torch.zeros(n, n, dtype=torch.float64)
    a[edge_index[1], edge_index[0]] = 1.0
    a += torch.eye(n, dtype=torch.float64)
    d = a.sum(1)
    a_r = torch.diag(d ** (r - 1)) @ a @ torch.diag(d ** (-r))
    if reference == "stationary":
        target = torch.linalg.matrix_power(a_r, 4000) @ x      # numerically converged limit
    else:
        target = x
    hops = [x]
    for _ in range(K):
        hops.append(a_r @ hops[-1])
    if distance == "cosine":
        dist = torch.stack([1 - F.cosine_similarity(h, target, dim=1) for h in hops], 1)
    else:
        dist = torch.stack([(h - target).norm(dim=1) for h in hops], 1)
    weights = torch.softmax(dist, dim=1)
    return sum(weights[:, k:k + 1] * hops[k] for k in range(K + 1))


@pytest.fixture
def two_components():
    # a 5-cycle with a chord and a separate triangle (undirected)
    und = torch.tensor([[0, 1, 2, 3, 4, 0, 5, 6, 7], [1, 2, 3, 4, 0, 2, 6, 7, 5]])
    ei = torch.cat([und, und.flip(0)], 1)
    x = torch.rand(8, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return ei, x


@pytest.mark.parametrize("reference", ["input", "stationary"])
@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("r", [0.0, 0.3, 0.5])
def test_matches_dense_reference(two_components, distance, r, reference):
    ei, x = two_components
    out = NAFS(K=5, r_list=[r], ensemble="mean", distance=distance,
               reference=reference).embed(x, ei)
    torch.testing.assert_close(out, nafs_dense(x, ei, 8, 5, r, distance, reference),
                               rtol=1e-6, atol=1e-8)


def test_default_weighs_hops_by_distance_to_own_features():
    # Path 0-1-2: the documented weights are softmax_k(1 - cos(A^k x_i, x_i)), so K=1 gives
    # (e^0 x_i + e^{d_i} (A x)_i) / (1 + e^{d_i}) with d_i = 1 - cos((A x)_i, x_i).
    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.2]], dtype=torch.float64)
    out = NAFS(K=1, r_list=[0.5], ensemble="mean").embed(x, ei)
    a = torch.tensor([[1., 1, 0], [1, 1, 1], [0, 1, 1]], dtype=torch.float64)
    d = a.sum(1)
    hop = (a / torch.sqrt(d[:, None] * d[None, :])) @ x
    dist = 1 - F.cosine_similarity(hop, x, dim=1)
    assert (dist > 0.05).all()  # the hops differ from the features: the weights are not equal
    w = torch.softmax(torch.stack([torch.zeros(3, dtype=torch.float64), dist], 1), dim=1)
    torch.testing.assert_close(out, w[:, :1] * x + w[:, 1:] * hop)


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
    with pytest.raises(ValueError, match="reference"):
        NAFS(reference="raw")
    with pytest.raises(TypeError, match="unexpected"):
        NAFS().embed(torch.ones(2, 2), torch.tensor([[0], [1]]), foo=1)


def test_recovers_planted_partition():
    data = make_csbm(600, 3, avg_degree=10, homophily=0.9, num_features=16,
                     feature_signal=0.5, seed=3)
    z = F.normalize(NAFS(K=10, ensemble="mean").embed(data.x, data.edge_index), dim=1)
    pred = KMeansClusterHead(3, n_init=3, random_state=0).fit_predict(z)
    assert label_metrics(data.y, pred, metrics=("NMI",))["NMI"] > 0.9
