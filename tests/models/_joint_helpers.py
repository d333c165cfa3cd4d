"""Shared helpers of the MinCut / Neuromap / GCSBM tests."""
import torch
from torch_geometric.nn import GCNConv

from pyagc.metrics import label_metrics
from pyagc.sampling import NeighborLoader
from pyagc.utils import set_seed


class Encoder(torch.nn.Module):
    def __init__(self, in_channels, hidden):
        super().__init__()
        self.conv = GCNConv(in_channels, hidden)

    def forward(self, x, edge_index, edge_weight=None):
        return torch.selu(self.conv(x, edge_index, edge_weight))


class NodeWise(torch.nn.Module):
    """Ignores the graph: a node's embedding is the same in any sampled subgraph."""

    def __init__(self, in_channels, hidden):
        super().__init__()
        self.lin = torch.nn.Linear(in_channels, hidden)

    def forward(self, x, edge_index, edge_weight=None):
        return self.lin(x)


def nmi(data, labels):
    return label_metrics(data.y, labels, metrics=("NMI",))["NMI"]


def full_batch_nmi(make, data, epochs=100, lr=0.01):
    set_seed(0)
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        model.train_full(data, opt, epoch, verbose=False)
    return nmi(data, model.infer_full(data))


def mini_batch_nmi(make, data, epochs=50, lr=0.01, batch_size=150, fan_out=5):
    set_seed(0)
    model = make()
    model.prepare(data)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loader = NeighborLoader(data, num_neighbors=[fan_out], batch_size=batch_size, shuffle=True,
                            seed=0)
    for epoch in range(epochs):
        loss = model.train_batch(loader, opt, epoch, verbose=False)
    assert loss == loss
    infer = NeighborLoader(data, num_neighbors=[-1], batch_size=batch_size, seed=0)
    return nmi(data, model.infer_batch(infer, verbose=False))


def all_nodes_batch(data, seed=0):
    """One batch holding every node (shuffled) with all its neighbours."""
    return next(iter(NeighborLoader(data, num_neighbors=[-1], batch_size=data.num_nodes,
                                    shuffle=True, seed=seed)))


def batch_estimates(model, data, component, batch_size=100, fan_out=5, repeats=40):
    """Every batch's value of loss ``component`` over ``repeats`` epochs (no gradients)."""
    loader = NeighborLoader(data, num_neighbors=[fan_out], batch_size=batch_size, shuffle=True,
                            seed=0)
    values = []
    with torch.no_grad():
        for _ in range(repeats):
            for batch in loader:
                out = model.loss_batch(batch)
                values.append(float(out.total) if component is None
                              else out.components[component])
    return values
