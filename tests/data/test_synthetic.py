import pytest
import torch
from torch_geometric.utils import contains_self_loops, is_undirected

from torch_geometric.utils import degree

from pyagc.data import make_csbm, make_products_like


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


def test_degree_exponent_gives_power_law_degrees_and_keeps_homophily():
    data = make_csbm(20000, 5, avg_degree=10, homophily=0.8, degree_exponent=2.5, seed=0)
    plain = make_csbm(20000, 5, avg_degree=10, homophily=0.8, seed=0)
    deg = degree(data.edge_index[0], data.num_nodes)
    plain_deg = degree(plain.edge_index[0], plain.num_nodes)
    # Poisson degrees stay near the mean; a gamma = 2.5 tail reaches hundreds of neighbours.
    assert plain_deg.max() < 40 and deg.max() > 200
    # Tail: theta >= 1 with mean (g - 1) / (g - 2) = 3, so P(D > 4 mean) ~ P(theta > 12)
    # = 12^(1 - 2.5) = 2.4% under the power law; ~0 under Poisson degrees.
    assert 0.012 < (deg > 4 * deg.mean()).float().mean() < 0.05
    assert (plain_deg > 4 * plain_deg.mean()).sum() == 0
    assert is_undirected(data.edge_index) and not contains_self_loops(data.edge_index)
    same = (data.y[data.edge_index[0]] == data.y[data.edge_index[1]]).float().mean()
    assert same == pytest.approx(0.8 + 0.2 / 5, abs=0.03)


def test_size_exponent_gives_zipf_block_sizes():
    data = make_csbm(10000, 4, size_exponent=1.0, seed=0)
    share = torch.tensor([1, 1 / 2, 1 / 3, 1 / 4])
    expected = (share / share.sum() * 10000).round().long()
    assert torch.bincount(data.y).tolist() == expected.tolist()
    # Labels are shuffled over the nodes, not laid out in blocks.
    assert data.y[:2500].unique().numel() == 4


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_nodes=10, n_clusters=2, degree_exponent=1.5), "degree_exponent"),
    (dict(num_nodes=10, n_clusters=2, size_exponent=-1.0), "size_exponent"),
    (dict(num_nodes=0, n_clusters=1), "num_nodes"),
    (dict(num_nodes=10, n_clusters=11), "n_clusters"),
    (dict(num_nodes=10, n_clusters=2, homophily=1.5), "homophily"),
    (dict(num_nodes=10, n_clusters=2, features="dense"), "features"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_csbm(**kwargs)


def test_products_like_has_products_shape_at_any_size():
    data = make_products_like(num_nodes=4000, seed=1)
    assert data.x.shape == (4000, 100) and int(data.y.max()) + 1 == 47
    sizes = torch.bincount(data.y, minlength=47)
    assert sizes[0] > 10 * sizes[-1]  # Zipf: the largest block dwarfs the smallest
    assert 40 < data.edge_index.size(1) / 4000 <= 50
    deg = degree(data.edge_index[0], 4000)
    assert deg.max() > 8 * deg.mean()  # hubs, as in a power law
    assert torch.equal(make_products_like(num_nodes=4000, seed=1).edge_index, data.edge_index)
