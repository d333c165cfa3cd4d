"""Shared helpers of the CCASSG / GBT / NS4GC tests: train on the easy CSBM, score by NMI."""
import torch
import torch.nn.functional as F

from pyagc.clusters import TorchKMeans
from pyagc.encoders import create_tuned_gnn
from pyagc.metrics import label_metrics
from pyagc.sampling import neighbor_loader
from pyagc.transforms import GSSLTransform
from pyagc.utils import set_seed


def nmi(z, y, k=3):
    pred = TorchKMeans(n_clusters=k, n_init=5, random_state=0).fit_predict(F.normalize(z, dim=1))
    return label_metrics(y, pred, metrics=("NMI",))["NMI"]


def make(cls, data, hidden=32, seed=0, **kwargs):
    set_seed(seed)
    encoder = create_tuned_gnn("gcn", data.num_features, hidden, num_layers=2)
    return cls(encoder, GSSLTransform(0.2, 0.2, seed=2 * seed + 1),
               GSSLTransform(0.2, 0.2, seed=2 * seed + 2), **kwargs)


def train_and_score(model, data, epochs, lr=0.01, mini_batch=False, batch_size=100):
    """NMI after training; also checks that training lowered the loss (the easy graph is
    separated even by an untrained GCN, so the NMI floor alone would not show learning)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loader = (neighbor_loader(data, 2, 10, batch_size, shuffle=True, seed=0)
              if mini_batch else None)
    losses = []
    for epoch in range(1, epochs + 1):
        if loader is None:
            losses.append(model.train_full(data, optimizer, epoch, verbose=False))
        else:
            losses.append(model.train_batch(loader, optimizer, epoch, verbose=False))
    assert min(losses[-3:]) < losses[0]
    return nmi(model.infer_embedding(data), data.y)
