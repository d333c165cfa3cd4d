import math

import pytest
import torch
from torch_geometric.nn import GCNConv

from pyagc.data import make_csbm
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


@pytest.fixture(scope="module")
def easy():
    return make_csbm(300, 3, avg_degree=10, homophily=0.9, num_features=16,
                     feature_signal=2.0, seed=0)


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
