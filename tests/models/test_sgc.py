import pytest
import torch
import torch.nn.functional as F

from pyagc.clusters import KMeansClusterHead
from pyagc.data import make_csbm
from pyagc.metrics import label_metrics
from pyagc.models import SGC


@pytest.fixture
def tiny():
    ei = torch.tensor([[0, 1, 2, 3, 0, 4], [1, 2, 3, 0, 2, 1]])   # directed; node 5 isolated
    w = torch.tensor([1.0, 0.5, 2.0, 1.0, 3.0, 0.7])
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return ei, w, x


@pytest.mark.parametrize("K", [0, 1, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_dense_reference(tiny, K, weighted, dense_adjacency):
    ei, w, x = tiny
    w = w if weighted else None
    out = SGC(K=K)(x, ei, w)
    ref = torch.linalg.matrix_power(dense_adjacency(ei, 6, w), K) @ x
    torch.testing.assert_close(out, ref)
    assert torch.allclose(out[5], x[5])                      # isolated node keeps its features


def test_without_self_loops_and_flow(tiny, dense_adjacency):
    ei, _, x = tiny
    out = SGC(K=2, add_self_loops=False)(x, ei)
    torch.testing.assert_close(out, torch.linalg.matrix_power(dense_adjacency(ei, 6, None, False), 2) @ x)
    assert out[5].abs().sum() == 0
    flipped = SGC(K=2, flow="target_to_source")(x, ei)
    torch.testing.assert_close(flipped, SGC(K=2)(x, ei.flip(0)))


def test_cached(tiny):
    ei, _, x = tiny
    model = SGC(K=2, cached=True)
    first = model.embed(x, ei)
    assert model.embed(torch.zeros_like(x), ei) is first
    model.reset_parameters()
    assert model.embed(torch.zeros_like(x), ei).abs().sum() == 0


def test_errors(tiny):
    ei, _, x = tiny
    with pytest.raises(ValueError, match="K must"):
        SGC(K=-1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        SGC(K=1, improved=True)
    with pytest.raises(ValueError, match="only 4 nodes"):
        SGC(K=1)(x[:4], ei)


def test_recovers_planted_partition():
    data = make_csbm(600, 3, avg_degree=10, homophily=0.9, num_features=16,
                     feature_signal=0.5, seed=1)
    z = F.normalize(SGC(K=3).embed(data.x, data.edge_index), dim=1)
    pred = KMeansClusterHead(3, n_init=3, random_state=0).fit_predict(z)
    assert label_metrics(data.y, pred, metrics=("NMI",))["NMI"] > 0.9
