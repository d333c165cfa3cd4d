import math

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import GCN, GCNConv

from pyagc.clusters import TorchKMeans
from pyagc.metrics import label_metrics
from pyagc.models import ARGA, ARGVA
from pyagc.sampling import NeighborLoader
from pyagc.utils import set_seed


class ConstantDisc(torch.nn.Module):
    """D(z) = c for every row: makes the adversarial losses closed-form."""

    def __init__(self, c):
        super().__init__()
        self.c = torch.nn.Parameter(torch.tensor(float(c)))

    def forward(self, z):
        return self.c.expand(z.size(0), 1)


class VarEncoder(torch.nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = GCNConv(in_channels, 32)
        self.mu = GCNConv(32, out_channels)
        self.logstd = GCNConv(32, out_channels)

    def forward(self, x, edge_index):
        h = self.conv(x, edge_index).relu()
        return self.mu(h, edge_index), self.logstd(h, edge_index)


def _disc(h):
    return torch.nn.Sequential(torch.nn.Linear(h, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))


def test_adversarial_losses_have_the_right_sign():
    z = torch.randn(5, 4)
    sig = lambda v: 1 / (1 + math.exp(-v))
    for c in (-2.0, 0.0, 3.0):
        model = ARGA(GCNConv(4, 4), ConstantDisc(c))
        model.discriminator.c.data.fill_(c)
        # Encoder: -log sigma(D(z)), smaller when D believes the codes are prior samples.
        assert float(model.reg_loss(z)) == pytest.approx(-math.log(sig(c)), rel=1e-5)
        # Discriminator: -log sigma(D(prior)) - log(1 - sigma(D(z))).
        assert float(model.discriminator_loss(z)) == pytest.approx(
            -math.log(sig(c)) - math.log(1 - sig(c)), rel=1e-5)
    high, low = ARGA(GCNConv(4, 4), ConstantDisc(0)), ARGA(GCNConv(4, 4), ConstantDisc(0))
    high.discriminator.c.data.fill_(5.0)
    low.discriminator.c.data.fill_(-5.0)
    assert float(high.reg_loss(z)) < float(low.reg_loss(z))


def test_discriminator_loss_does_not_reach_the_encoder(easy):
    model = ARGA(GCNConv(16, 8), _disc(8))
    z = model(easy.x, easy.edge_index)
    model.discriminator_loss(z).backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert any(p.grad is not None for p in model.discriminator.parameters())


def test_arga_two_phase_training_separates_easy_graph(easy):
    set_seed(0)
    model = ARGA(GCN(16, 32, num_layers=2, out_channels=16), _disc(16))
    enc_opt = torch.optim.Adam(list(model.encoder.parameters()), lr=0.01)
    disc_opt = torch.optim.Adam(model.discriminator.parameters(), lr=0.001)
    for epoch in range(60):
        d = model.train_discriminator(easy, disc_opt, epoch, verbose=False)
        e = model.train_encoder(easy, enc_opt, epoch, verbose=False)
    assert math.isfinite(d) and math.isfinite(e)
    out = model.loss(easy.x, easy.edge_index)
    assert set(out.components) == {"recon", "reg"}
    z = F.normalize(model.infer_full(easy), dim=1)
    pred = TorchKMeans(n_clusters=3, n_init=5, random_state=0).fit_predict(z)
    assert label_metrics(easy.y, pred, metrics=("NMI",))["NMI"] > 0.8


def test_argva_losses_and_mini_batch(easy):
    set_seed(0)
    model = ARGVA(VarEncoder(16, 16), _disc(16))
    out = model.loss(easy.x, easy.edge_index)
    assert set(out.components) == {"recon", "reg", "kl"}
    assert float(out.total) == pytest.approx(sum(out.components.values()), rel=1e-5)
    enc_opt = torch.optim.Adam(list(model.encoder.parameters()), lr=0.01)
    loader = NeighborLoader(easy, num_neighbors=[10, 10], batch_size=100, shuffle=True, seed=0)
    for epoch in range(15):
        loss = model.train_batch(loader, enc_opt, epoch, verbose=False)
    assert math.isfinite(loss)
    z = F.normalize(model.infer_full(easy), dim=1)
    pred = TorchKMeans(n_clusters=3, n_init=5, random_state=0).fit_predict(z)
    assert label_metrics(easy.y, pred, metrics=("NMI",))["NMI"] > 0.8


def test_arga_rejects_a_non_module_discriminator():
    with pytest.raises(TypeError, match="discriminator"):
        ARGA(GCNConv(4, 4), lambda z: z)


@pytest.mark.parametrize("variational", [False, True])
def test_unknown_loss_kwargs_are_rejected(easy, variational):
    model = (ARGVA(VarEncoder(16, 8), _disc(8)) if variational
             else ARGA(GCN(16, 8, num_layers=1), _disc(8)))
    with pytest.raises(TypeError, match="betta"):
        model.loss(easy.x, easy.edge_index, betta=2.0)
    batch = next(iter(NeighborLoader(easy, num_neighbors=[3], batch_size=100, seed=0)))
    with pytest.raises(TypeError, match="betta"):
        model.loss_batch(batch, betta=2.0)


@pytest.mark.parametrize("variational", [False, True])
def test_seed_makes_losses_independent_of_global_rng(easy, variational):
    cls = ARGVA if variational else ARGA

    def make(seed):
        enc = VarEncoder(16, 8) if variational else GCN(16, 32, num_layers=2, out_channels=8)
        return cls(enc, _disc(8), seed=seed)

    set_seed(0)
    a, b, c = make(5), make(5), make(6)
    b.load_state_dict(a.state_dict())
    c.load_state_dict(a.state_dict())

    def losses(model, global_seed):
        torch.manual_seed(global_seed)
        z = model(easy.x, easy.edge_index)
        return (float(model.loss(easy.x, easy.edge_index).total.detach()),
                float(model.discriminator_loss(z.detach())))

    out_a, out_b, out_c = losses(a, 1), losses(b, 2), losses(c, 1)
    assert out_a == out_b
    assert out_a[0] != out_c[0] and out_a[1] != out_c[1]


class RecordingDisc(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, z):
        self.seen.append(z)
        return z.sum(1)


def test_prior_samples_come_from_the_seed():
    disc = RecordingDisc()
    model = ARGA(GCN(16, 32, num_layers=2, out_channels=8), disc, seed=3)
    z = torch.zeros(6, 4)
    model.discriminator_loss(z)
    real, fake = disc.seen
    assert torch.equal(real, torch.randn(6, 4, generator=torch.Generator().manual_seed(3)))
    assert torch.equal(fake, z)


def test_argva_std_scale_default_and_check():
    assert ARGVA(VarEncoder(16, 8), _disc(8)).std_scale == 0.1
    assert ARGVA(VarEncoder(16, 8), _disc(8), std_scale=1.0).std_scale == 1.0
    with pytest.raises(ValueError, match="std_scale"):
        ARGVA(VarEncoder(16, 8), _disc(8), std_scale=0.0)
