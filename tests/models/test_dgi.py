import math

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import GCNConv

from pyagc.clusters import TorchKMeans
from pyagc.encoders import create_tuned_gnn
from pyagc.metrics import label_metrics
from pyagc.models import DGI
from pyagc.sampling import NeighborLoader
from pyagc.utils import set_seed


class Encoder(torch.nn.Module):
    def __init__(self, in_channels, hidden):
        super().__init__()
        self.conv = GCNConv(in_channels, hidden)
        self.act = torch.nn.PReLU(hidden)

    def forward(self, x, edge_index):
        return self.act(self.conv(x, edge_index))


def _nmi(z, y, k=3):
    pred = TorchKMeans(n_clusters=k, n_init=5, random_state=0).fit_predict(F.normalize(z, dim=1))
    return label_metrics(y, pred, metrics=("NMI",))["NMI"]


def test_discriminator_and_loss_match_hand_computation():
    model = DGI(2, GCNConv(2, 2))
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0], [0.0, -1.0]]))
    pos = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    neg = torch.tensor([[2.0, 1.0], [-1.0, 0.0]])
    s = torch.tensor([0.5, 1.0])
    ws = [1.0 * 0.5 + 2.0 * 1.0, -1.0]  # W s
    score = lambda v: v[0] * ws[0] + v[1] * ws[1]
    assert model.discriminate(pos, s, sigmoid=False).tolist() == pytest.approx(
        [score(r) for r in pos.tolist()])
    sig = lambda v: 1 / (1 + math.exp(-v))
    expected = (-sum(math.log(sig(score(r))) for r in pos.tolist()) / 2
                - sum(math.log(1 - sig(score(r))) for r in neg.tolist()) / 2)
    assert float(model._infomax(pos, neg, s).total) == pytest.approx(expected, rel=1e-6)


def test_default_summary_and_corruption(easy):
    set_seed(0)
    model = DGI(8, Encoder(16, 8))
    pos_z, neg_z, summary = model(easy.x, easy.edge_index)
    assert summary.tolist() == pytest.approx(torch.sigmoid(pos_z.mean(0)).tolist(), rel=1e-6)
    # The corrupted pass is the encoder on a row permutation of x, same graph.
    torch.manual_seed(1)
    _, neg_z, _ = model(easy.x, easy.edge_index)
    torch.manual_seed(1)
    perm = torch.randperm(easy.num_nodes)
    assert torch.allclose(neg_z, model.embed(easy.x[perm], easy.edge_index), atol=1e-5)


def _tuned_encoder(sparse_inputs, in_channels=16):
    return create_tuned_gnn("gcn", in_channels, 8, 1, act="prelu", act_last=True, cached=True,
                            sparse_inputs=sparse_inputs)


@pytest.mark.parametrize("sparse_inputs", ["auto", "off"])
def test_a_tuned_encoder_permutes_the_features_itself(easy, sparse_inputs):
    # Bag-of-words features, so that 'auto' runs the encoder on CSR features.
    x = (torch.rand(easy.num_nodes, 200, generator=torch.Generator().manual_seed(0)) < 0.03)
    x = x.float()
    set_seed(0)
    model = DGI(8, _tuned_encoder(sparse_inputs, 200), seed=3)
    _, neg_z, _ = model(x, easy.edge_index)
    perm = torch.randperm(easy.num_nodes, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(neg_z, model.embed(x[perm], easy.edge_index), atol=1e-5)


def test_custom_summary_and_corruption_are_used(easy):
    calls = {}

    def corruption(x, edge_index):
        calls["c"] = True
        return torch.zeros_like(x), edge_index

    def summary(z):
        calls["s"] = True
        return z.max(dim=0).values

    model = DGI(8, Encoder(16, 8), summary=summary, corruption=corruption)
    pos_z, neg_z, s = model(easy.x, easy.edge_index)
    assert calls == {"c": True, "s": True}
    assert torch.allclose(s, pos_z.max(0).values)
    assert torch.allclose(neg_z, model.embed(torch.zeros_like(easy.x), easy.edge_index))


def test_invalid_hidden_channels():
    with pytest.raises(ValueError, match="hidden_channels"):
        DGI(0, GCNConv(2, 2))


def test_dgi_separates_easy_graph_full_batch(easy):
    set_seed(0)
    model = DGI(32, Encoder(16, 32))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(40):
        model.train_full(easy, opt, epoch, verbose=False)
    assert _nmi(model.infer_full(easy), easy.y) > 0.8


def test_dgi_separates_easy_graph_mini_batch(easy):
    set_seed(0)
    model = DGI(32, Encoder(16, 32))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = NeighborLoader(easy, num_neighbors=[10], batch_size=100, shuffle=True, seed=0)
    for epoch in range(15):
        out = model.loss_batch(next(iter(loader)))
        assert set(out.components) == {"pos", "neg"}
        model.train_batch(loader, opt, epoch, verbose=False)
    infer = NeighborLoader(easy, num_neighbors=[-1], batch_size=150, seed=0)
    assert _nmi(model.infer_batch(infer, verbose=False), easy.y) > 0.8


def test_unknown_loss_kwargs_are_rejected(easy):
    model = DGI(8, Encoder(16, 8))
    with pytest.raises(TypeError, match="betta"):
        model.loss(easy.x, easy.edge_index, betta=2.0)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    with pytest.raises(TypeError, match="betta"):
        model.train_full(easy, opt, 0, verbose=False, betta=2.0)
    batch = next(iter(NeighborLoader(easy, num_neighbors=[3], batch_size=100, seed=0)))
    with pytest.raises(TypeError, match="betta"):
        model.loss_batch(batch, betta=2.0)


@pytest.mark.parametrize("sparse_inputs", ["auto", "off"])
def test_seeded_corruption_is_independent_of_global_rng(easy, sparse_inputs):
    set_seed(0)
    a, b, c = (DGI(8, _tuned_encoder(sparse_inputs), seed=s) for s in (5, 5, 6))
    b.load_state_dict(a.state_dict())
    c.load_state_dict(a.state_dict())
    torch.manual_seed(1)
    _, neg_a, _ = a(easy.x, easy.edge_index)
    loss_a = float(a.loss(easy.x, easy.edge_index).total.detach())
    torch.manual_seed(2)
    _, neg_b, _ = b(easy.x, easy.edge_index)
    loss_b = float(b.loss(easy.x, easy.edge_index).total.detach())
    torch.manual_seed(1)
    _, neg_c, _ = c(easy.x, easy.edge_index)
    assert torch.equal(neg_a, neg_b) and loss_a == loss_b
    assert not torch.allclose(neg_a, neg_c)
    # The corruption is the row permutation drawn from a generator seeded with the seed.
    perm = torch.randperm(easy.num_nodes, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(neg_a, a.embed(easy.x[perm], easy.edge_index), atol=1e-5)
    # reset_parameters restarts the stream.
    b.reset_parameters()
    b.load_state_dict(a.state_dict())
    assert torch.equal(b(easy.x, easy.edge_index)[1], neg_a)
