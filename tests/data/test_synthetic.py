import pytest
import torch
from torch_geometric.utils import contains_self_loops, is_undirected

from pyagc.data import make_csbm


def test_shapes_undirected_and_balanced():
    data = make_csbm(1000, 5, avg_degree=8, num_features=16, seed=0)
    assert data.x.shape == (1000, 16) and data.y.shape == (1000,)
    assert is_undirected(data.edge_index) and not contains_self_loops(data.edge_index)
    assert torch.bincount(data.y).tolist() == [200] * 5
    assert 7.0 < data.edge_index.size(1) / 1000 <= 8.0


def test_homophily_and_features_follow_the_blocks():
    data = make_csbm(3000, 4, avg_degree=10, homophily=0.7, seed=1)
    same = (data.y[data.edge_index[0]] == data.y[data.edge_index[1]]).float().mean()
    assert same == pytest.approx(0.7 + 0.3 / 4, abs=0.02)
    means = torch.stack([data.x[data.y == c].mean(0) for c in range(4)])
    assert torch.cdist(means, means).fill_diagonal_(1e9).min() > 1.0


def test_sparse_features_are_binary_bags_of_block_words():
    data = make_csbm(400, 4, num_features=40, features="sparse", feature_signal=3.0, seed=2)
    assert set(data.x.unique().tolist()) <= {0.0, 1.0}
    own = torch.stack([data.x[i, 10 * data.y[i]:10 * data.y[i] + 10].sum() for i in range(400)])
    assert own.sum() / data.x.sum() > 0.6


def test_seeded():
    a, b = make_csbm(500, 3, seed=5), make_csbm(500, 3, seed=5)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.x, b.x)
    assert not torch.equal(a.x, make_csbm(500, 3, seed=6).x)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_nodes=0, n_clusters=1), "num_nodes"),
    (dict(num_nodes=10, n_clusters=11), "n_clusters"),
    (dict(num_nodes=10, n_clusters=2, homophily=1.5), "homophily"),
    (dict(num_nodes=10, n_clusters=2, features="dense"), "features"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_csbm(**kwargs)
