import math

import networkx as nx
import pytest
import torch
from networkx.algorithms.community import modularity

from pyagc.clusters import DMoNClusterHead
from pyagc.clusters.dmon_head import collapse_loss, spectral_modularity_loss
from pyagc.data import make_csbm


def _graph():
    return make_csbm(60, 3, avg_degree=6, homophily=0.7, num_features=4, seed=1)


def test_spectral_loss_of_one_hot_assignment_is_minus_modularity():
    data = _graph()
    labels = torch.arange(60) % 3
    s = torch.nn.functional.one_hot(labels, 3).float()
    deg = torch.bincount(data.edge_index[1], minlength=60).float()
    loss = spectral_modularity_loss(s, data.edge_index, deg, float(deg.sum()))
    g = nx.Graph()
    g.add_nodes_from(range(60))
    g.add_edges_from(data.edge_index.t().tolist())
    q = modularity(g, [set(torch.nonzero(labels == c).view(-1).tolist()) for c in range(3)])
    assert float(loss) == pytest.approx(-q, abs=1e-6)
    # Same value from a CSR adjacency (the SpMM path).
    adj = torch.sparse_coo_tensor(data.edge_index.flip(0), torch.ones(data.edge_index.size(1)),
                                  (60, 60)).to_sparse_csr()
    assert float(spectral_modularity_loss(s, adj, deg, float(deg.sum()))) == pytest.approx(-q, abs=1e-6)


def test_collapse_loss_extremes():
    n, k = 12, 4
    balanced = torch.nn.functional.one_hot(torch.arange(n) % k, k).float()
    collapsed = torch.zeros(n, k)
    collapsed[:, 0] = 1
    assert float(collapse_loss(balanced)) == pytest.approx(0.0, abs=1e-6)
    assert float(collapse_loss(collapsed)) == pytest.approx(math.sqrt(k) - 1, rel=1e-6)


def test_batch_estimate_is_unbiased():
    data = _graph()
    torch.manual_seed(0)
    s = torch.softmax(torch.randn(60, 3) * 2, dim=1)
    deg = torch.bincount(data.edge_index[1], minlength=60).float()
    two_m = float(deg.sum())
    full = float(spectral_modularity_loss(s, data.edge_index, deg, two_m))
    estimates = []
    gen = torch.Generator().manual_seed(0)
    for _ in range(3000):
        idx = torch.randperm(60, generator=gen)[:15]
        local = torch.full((60,), -1, dtype=torch.long)
        local[idx] = torch.arange(15)
        ei = local[data.edge_index]
        ei = ei[:, (ei >= 0).all(0)]
        estimates.append(float(spectral_modularity_loss(s[idx], ei, deg[idx], two_m,
                                                        sample_fraction=(15, 60))))
    mean = sum(estimates) / len(estimates)
    sd = (sum((e - mean) ** 2 for e in estimates) / len(estimates)) ** 0.5
    assert abs(mean - full) < 4 * sd / math.sqrt(len(estimates)) + 1e-4


def test_head_forward_cluster_and_centers():
    torch.manual_seed(0)
    head = DMoNClusterHead(3, 5)
    w = head.lin.weight
    assert torch.allclose(w @ w.t(), torch.eye(3), atol=1e-5)  # orthogonal rows
    z = torch.randn(10, 5)
    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    spectral, collapse = head(z, ei)
    assert spectral.dim() == 0 and collapse.dim() == 0
    soft = head.cluster(z, soft=True)
    assert torch.allclose(soft.sum(1), torch.ones(10))
    assert torch.equal(head.cluster(z), soft.argmax(1))
    centers = torch.randn(3, 5)
    head.reset_cluster_centers(centers)
    nearest = torch.cdist(z, centers).argmin(1)
    assert torch.equal(head.cluster(z), nearest)
    with pytest.raises(ValueError, match="shape"):
        head.reset_cluster_centers(torch.randn(2, 5))


def test_head_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_clusters"):
        DMoNClusterHead(1, 4)
    with pytest.raises(ValueError, match="n_features"):
        DMoNClusterHead(3, 0)
    with pytest.raises(ValueError, match="no edges"):
        DMoNClusterHead(2, 2)(torch.randn(3, 2), torch.empty(2, 0, dtype=torch.long))


def test_head_weighted_degrees_give_weighted_modularity_in_float64():
    data = _graph()
    src, dst = data.edge_index
    w = ((src * 7 + dst * 7) % 5 + 1).double()  # symmetric weights
    head = DMoNClusterHead(3, 3).double()
    with torch.no_grad():
        head.lin.weight.copy_(50 * torch.eye(3, dtype=torch.float64))
    labels = torch.arange(60) % 3
    z = torch.nn.functional.one_hot(labels, 3).double()
    spectral, _ = head(z, data.edge_index, edge_weight=w)
    g = nx.Graph()
    g.add_nodes_from(range(60))
    g.add_weighted_edges_from((s, t, v) for s, t, v in zip(src.tolist(), dst.tolist(), w.tolist()))
    q = modularity(g, [set(torch.nonzero(labels == c).view(-1).tolist()) for c in range(3)])
    assert spectral.dtype == torch.float64
    assert float(spectral) == pytest.approx(-q, abs=1e-8)
