import math

import pytest
import torch
from torch_geometric.nn import GCNConv

from pyagc.data import make_csbm
from pyagc.encoders import create_tuned_gnn
from pyagc.metrics import label_metrics
from pyagc.models import DMoN, LossOutput
from pyagc.sampling import NeighborLoader
from pyagc.utils import set_seed


class Encoder(torch.nn.Module):
    def __init__(self, in_channels, hidden):
        super().__init__()
        self.conv = GCNConv(in_channels, hidden)

    def forward(self, x, edge_index):
        return torch.selu(self.conv(x, edge_index))


def test_loss_components_and_forward(easy):
    set_seed(0)
    model = DMoN(Encoder(16, 16), 16, 3, lam=0.5)
    out = model.loss(easy.x, easy.edge_index)
    assert isinstance(out, LossOutput) and set(out.components) == {"spectral", "collapse"}
    expected = out.components["spectral"] + 0.5 * out.components["collapse"]
    assert float(out.total) == pytest.approx(expected, rel=1e-5)
    labels = model.infer_full(easy)
    assert labels.shape == (300,) and labels.dtype == torch.long and int(labels.max()) < 3


def test_batch_loss_with_all_nodes_equals_full_loss(easy):
    set_seed(0)
    model = DMoN(Encoder(16, 16), 16, 3)
    model.eval()
    full = model.loss(easy.x, easy.edge_index)
    model.set_graph_statistics(easy)
    loader = NeighborLoader(easy, num_neighbors=[-1], batch_size=300, shuffle=True, seed=0)
    batch = next(iter(loader))
    part = model.loss_batch(batch)
    assert float(part.total) == pytest.approx(float(full.total), rel=1e-4)


def test_batch_loss_needs_graph_statistics(easy):
    model = DMoN(Encoder(16, 16), 16, 3)
    loader = NeighborLoader(easy, num_neighbors=[5], batch_size=50, seed=0)
    with pytest.raises(ValueError, match="set_graph_statistics"):
        model.loss_batch(next(iter(loader)))


def test_invalid_lam():
    with pytest.raises(ValueError, match="lam"):
        DMoN(Encoder(4, 4), 4, 3, lam=-1.0)


def test_dmon_separates_easy_graph_full_batch(easy):
    set_seed(0)
    model = DMoN(Encoder(16, 32), 32, 3)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(100):
        model.train_full(easy, opt, epoch, verbose=False)
    nmi = label_metrics(easy.y, model.infer_full(easy), metrics=("NMI",))["NMI"]
    assert nmi > 0.8


def test_dmon_separates_easy_graph_mini_batch(easy):
    set_seed(0)
    model = DMoN(Encoder(16, 32), 32, 3)
    model.set_graph_statistics(easy)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = NeighborLoader(easy, num_neighbors=[5], batch_size=150, shuffle=True, seed=0)
    for epoch in range(50):
        loss = model.train_batch(loader, opt, epoch, verbose=False)
    assert math.isfinite(loss)
    infer = NeighborLoader(easy, num_neighbors=[-1], batch_size=150, seed=0)
    nmi = label_metrics(easy.y, model.infer_batch(infer, verbose=False), metrics=("NMI",))["NMI"]
    assert nmi > 0.8


class _WeightedEncoder(torch.nn.Module):
    def __init__(self, in_channels, hidden):
        super().__init__()
        self.conv = GCNConv(in_channels, hidden)

    def forward(self, x, edge_index, edge_weight=None):
        return torch.selu(self.conv(x, edge_index, edge_weight))


class _NodeWise(torch.nn.Module):
    """Ignores the graph, so a node's embedding is the same in any sampled subgraph."""

    def __init__(self, in_channels, hidden):
        super().__init__()
        self.lin = torch.nn.Linear(in_channels, hidden)

    def forward(self, x, edge_index, edge_weight=None):
        return self.lin(x)


def _weighted(data, seed=0):
    gen = torch.Generator().manual_seed(seed)
    src, dst = data.edge_index
    keep = src < dst
    w = torch.rand(int(keep.sum()), generator=gen) * 3 + 0.1
    edge_index = torch.cat([data.edge_index[:, keep], data.edge_index[:, keep].flip(0)], 1)
    return type(data)(x=data.x, edge_index=edge_index, edge_weight=torch.cat([w, w]), y=data.y)


@pytest.mark.parametrize("sparse_inputs", ["auto", "off"])
def test_float64_loss_matches_float32(easy, sparse_inputs):
    set_seed(0)
    encoder = create_tuned_gnn("gcn", 16, 8, 1, act="selu", act_last=True, cached=True,
                               sparse_inputs=sparse_inputs)
    model = DMoN(encoder, 8, 3).eval()
    single = float(model.loss(easy.x, easy.edge_index).total)
    out = model.double().loss(easy.x.double(), easy.edge_index)
    assert out.total.dtype == torch.float64
    assert float(out.total) == pytest.approx(single, abs=1e-5)


def test_weighted_batch_with_all_nodes_equals_full_weighted_loss(easy):
    data = _weighted(easy)
    set_seed(0)
    model = DMoN(_WeightedEncoder(16, 16), 16, 3).eval()
    full = model.loss(data.x, data.edge_index, data.edge_weight)
    unweighted = model.loss(data.x, data.edge_index)
    assert float(full.total) != pytest.approx(float(unweighted.total), rel=1e-3)
    model.set_graph_statistics(data)
    assert model.global_two_m == pytest.approx(float(data.edge_weight.sum()))
    batch = next(iter(NeighborLoader(data, num_neighbors=[-1], batch_size=300, shuffle=True,
                                     seed=0)))
    part = model.loss_batch(batch)
    assert float(part.components["spectral"]) == pytest.approx(
        float(full.components["spectral"]), rel=1e-4)


def test_weighted_batch_spectral_loss_is_unbiased():
    # Heavy intra-cluster and light inter-cluster weights: the weighted loss is far from the
    # unweighted one, so an estimator that ignores the weights misses the full value.
    g = make_csbm(60, 3, avg_degree=6, homophily=0.6, num_features=4, seed=1)
    one_way = g.edge_index[:, g.edge_index[0] < g.edge_index[1]]
    w = torch.where(g.y[one_way[0]] == g.y[one_way[1]], 4.0, 0.25)
    data = type(g)(x=torch.nn.functional.one_hot(g.y, 3).float(),
                   edge_index=torch.cat([one_way, one_way.flip(0)], 1),
                   edge_weight=torch.cat([w, w]), y=g.y)
    set_seed(0)
    model = DMoN(_NodeWise(3, 3), 3, 3, head_init="random").eval()  # the head set by hand
    with torch.no_grad():
        model.cluster_head.lin.weight.copy_(3 * torch.eye(3))
        model.cluster_head.lin.bias.zero_()
        full = float(model.loss(data.x, data.edge_index, data.edge_weight).components["spectral"])
        unweighted = float(model.loss(data.x, data.edge_index).components["spectral"])
        model.set_graph_statistics(data)
        loader = NeighborLoader(data, num_neighbors=[3], batch_size=20, shuffle=True, seed=0)
        estimates = [float(model.loss_batch(b).components["spectral"])
                     for _ in range(300) for b in loader]
    mean = sum(estimates) / len(estimates)
    sd = (sum((e - mean) ** 2 for e in estimates) / len(estimates)) ** 0.5
    tol = 4 * sd / math.sqrt(len(estimates)) + 1e-4
    assert abs(unweighted - full) > 2 * tol  # the test can tell the two objectives apart
    assert abs(mean - full) < tol
