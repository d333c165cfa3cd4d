import math

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import GCN, GCNConv

from pyagc.clusters import TorchKMeans
from pyagc.metrics import label_metrics
from pyagc.models import GAE, VGAE, LossOutput
from pyagc.sampling import NeighborLoader
from pyagc.utils import set_seed


class VarEncoder(torch.nn.Module):
    def __init__(self, in_channels, hidden, out_channels):
        super().__init__()
        self.conv = GCNConv(in_channels, hidden)
        self.mu = GCNConv(hidden, out_channels)
        self.logstd = GCNConv(hidden, out_channels)

    def forward(self, x, edge_index):
        h = self.conv(x, edge_index).relu()
        return self.mu(h, edge_index), self.logstd(h, edge_index)


def _nmi(model, data, k, loader=None):
    z = model.infer_full(data) if loader is None else model.infer_batch(loader, verbose=False)
    pred = TorchKMeans(n_clusters=k, n_init=5, random_state=0).fit_predict(F.normalize(z, dim=1))
    return label_metrics(data.y, pred, metrics=("NMI",))["NMI"]


def test_recon_loss_matches_hand_computation():
    model = GAE(GCNConv(2, 2))
    z = torch.tensor([[1.0, 0.0], [0.5, 0.5], [-1.0, 2.0]])
    pos = torch.tensor([[0, 1], [1, 2]])
    neg = torch.tensor([[0], [2]])
    s01, s12, s02 = 0.5, 0.5, -1.0
    sig = lambda v: 1 / (1 + math.exp(-v))
    expected = -(math.log(sig(s01)) + math.log(sig(s12))) / 2 - math.log(1 - sig(s02))
    assert float(model.recon_loss(z, pos, neg)) == pytest.approx(expected, rel=1e-6)


def test_recon_loss_samples_negatives_that_are_not_edges(easy):
    set_seed(0)
    model = GAE(GCNConv(16, 8))
    neg = model._negatives(easy.edge_index, easy.num_nodes)
    keys = set((easy.edge_index[0] * 300 + easy.edge_index[1]).tolist())
    assert neg.size(1) > 0.95 * easy.edge_index.size(1)
    assert not (set((neg[0] * 300 + neg[1]).tolist()) & keys)
    assert bool((neg[0] != neg[1]).all())


def test_kl_loss_matches_closed_form():
    model = VGAE(VarEncoder(2, 4, 2))
    mu = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    logstd = torch.tensor([[0.0, math.log(2.0)], [0.5, -0.5]])
    per_node = []
    for m, ls in zip(mu.tolist(), logstd.tolist()):
        per_node.append(sum(0.5 * (math.exp(2 * l) + mm ** 2 - 1 - 2 * l) for mm, l in zip(m, ls)))
    assert float(model.kl_loss(mu, logstd)) == pytest.approx(sum(per_node) / 2, rel=1e-6)


def test_vgae_needs_a_two_headed_encoder(easy):
    model = VGAE(GCNConv(16, 8))
    with pytest.raises(TypeError, match="mu, logstd"):
        model.loss(easy.x, easy.edge_index)


def test_same_seed_same_loss_and_reset(easy):
    losses = []
    for _ in range(2):
        set_seed(3)
        model = GAE(GCN(16, 16, num_layers=2))
        losses.append(float(model.loss(easy.x, easy.edge_index)))
    assert losses[0] == losses[1]
    before = [p.clone() for p in model.parameters()]
    model.reset_parameters()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_gae_separates_easy_graph_full_batch(easy):
    set_seed(0)
    model = GAE(GCN(16, 32, num_layers=2, out_channels=16))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(60):
        model.train_full(easy, opt, epoch, verbose=False)
    assert _nmi(model, easy, 3) > 0.8


def test_vgae_separates_easy_graph_full_batch(easy):
    set_seed(0)
    model = VGAE(VarEncoder(16, 32, 16))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(80):
        out = model.loss(easy.x, easy.edge_index)
        assert isinstance(out, LossOutput) and set(out.components) == {"recon", "kl"}
        model.train_full(easy, opt, epoch, verbose=False)
    assert _nmi(model, easy, 3) > 0.8


def test_gae_separates_easy_graph_mini_batch(easy):
    set_seed(0)
    model = GAE(GCN(16, 32, num_layers=2, out_channels=16))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = NeighborLoader(easy, num_neighbors=[10, 10], batch_size=100, shuffle=True, seed=0)
    for epoch in range(20):
        loss = model.train_batch(loader, opt, epoch, verbose=False)
    assert math.isfinite(loss)
    infer = NeighborLoader(easy, num_neighbors=[-1, -1], batch_size=150, seed=0)
    assert _nmi(model, easy, 3, infer) > 0.8


@pytest.mark.parametrize("cls", ["GAE", "VGAE"])
def test_unknown_loss_kwargs_are_rejected(easy, cls):
    model = (GAE(GCN(16, 8, num_layers=1)) if cls == "GAE"
             else VGAE(VarEncoder(16, 8, 4)))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    with pytest.raises(TypeError, match="betta"):
        model.loss(easy.x, easy.edge_index, betta=2.0)
    with pytest.raises(TypeError, match="betta"):
        model.train_full(easy, opt, 0, verbose=False, betta=2.0)
    loader = NeighborLoader(easy, num_neighbors=[3], batch_size=100, seed=0)
    with pytest.raises(TypeError, match="betta"):
        model.train_batch(loader, opt, 0, verbose=False, betta=2.0)



def _total(out):
    return float((out.total if isinstance(out, LossOutput) else out).detach())


@pytest.mark.parametrize("cls", [GAE, VGAE])
def test_seed_makes_draws_independent_of_global_rng(easy, cls):
    enc = (lambda: GCN(16, 16, num_layers=2)) if cls is GAE else (lambda: VarEncoder(16, 16, 8))
    set_seed(0)
    a, b, c = cls(enc(), seed=5), cls(enc(), seed=5), cls(enc(), seed=6)
    b.load_state_dict(a.state_dict())
    c.load_state_dict(a.state_dict())
    torch.manual_seed(1)
    loss_a = _total(a.loss(easy.x, easy.edge_index))
    torch.manual_seed(2)
    torch.rand(100)  # a different global stream: the seeded model must not notice
    loss_b = _total(b.loss(easy.x, easy.edge_index))
    torch.manual_seed(1)
    loss_c = _total(c.loss(easy.x, easy.edge_index))
    assert loss_a == loss_b
    assert loss_a != loss_c  # same weights and global stream: only the seed differs
    # reset_parameters restarts the stream: a used model draws what a fresh one draws.
    a.reset_parameters()
    a.load_state_dict(b.state_dict())
    fresh = cls(enc(), seed=5)
    fresh.load_state_dict(b.state_dict())
    assert _total(a.loss(easy.x, easy.edge_index)) == _total(fresh.loss(easy.x, easy.edge_index))


def test_seeded_negatives_and_noise(easy):
    set_seed(0)
    m5, m5b, m6 = (GAE(GCN(16, 8, num_layers=1), seed=s) for s in (5, 5, 6))

    def draw(m):
        return m._negatives(easy.edge_index, easy.num_nodes, generator=m._rng("cpu"))

    assert torch.equal(draw(m5), draw(m5b))
    assert not torch.equal(draw(m5), draw(m6))
    # Mini-batch negatives use the same stream.
    loader = NeighborLoader(easy, num_neighbors=[5], batch_size=64, shuffle=False)
    batch = next(iter(loader))
    m5.reset_parameters(), m5b.reset_parameters()
    assert torch.equal(m5._batch_pairs(batch)[1], m5b._batch_pairs(batch)[1])
    assert not torch.equal(m5._batch_pairs(batch)[1], m6._batch_pairs(batch)[1])
    # VGAE's noise: eps ~ N(0, I) from a generator seeded with the model's seed.
    v5, v6 = VGAE(VarEncoder(16, 16, 8), seed=5), VGAE(VarEncoder(16, 16, 8), seed=6)
    mu, logstd = torch.zeros(4, 3), torch.zeros(4, 3)
    eps = torch.randn(4, 3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(v5.reparametrize(mu, logstd), eps)
    assert not torch.equal(v6.reparametrize(mu, logstd), eps)
    v5.eval()
    assert torch.equal(v5.reparametrize(mu, logstd), mu)


def test_seed_must_be_an_int():
    with pytest.raises(TypeError, match="seed must be an int"):
        GAE(GCN(16, 8, num_layers=1), seed=1.5)


def test_mini_batch_loss_trims_to_seeds_and_hop_one():
    from pyagc.data import make_csbm
    from pyagc.encoders import create_tuned_gnn
    graph = make_csbm(2000, 4, avg_degree=8, num_features=24, seed=0)
    batch = next(iter(NeighborLoader(graph, num_neighbors=[5, 5], batch_size=64)))
    torch.manual_seed(0)
    model = GAE(create_tuned_gnn("sage", 24, 16, num_layers=2), seed=0)
    seen = []
    recon = model.recon_loss
    model.recon_loss = lambda z, pos, neg: seen.append((z, pos, neg)) or recon(z, pos, neg)
    model.loss_batch(batch)
    z, pos, neg = seen[0]
    rows = sum(batch.num_sampled_nodes[:2])
    assert z.size(0) == rows < batch.num_nodes  # the hop-2 rows are never computed
    with torch.no_grad():
        full = model.encoder(batch.x, batch.edge_index)
    assert torch.allclose(z, full[:rows], atol=1e-5)  # ... and the kept rows are unchanged
    # Positives: every edge into a seed; negatives (as many, less rejected draws): two seeds.
    assert pos.size(1) == int((batch.edge_index[1] < batch.batch_size).sum())
    assert 0.9 * pos.size(1) <= neg.size(1) <= pos.size(1)
    assert int(neg.max()) < batch.batch_size


def test_mini_batch_loss_on_edge_pair_batches_reads_only_seed_rows():
    from pyagc.data import make_csbm
    from pyagc.encoders import create_tuned_gnn
    from _edge_pair_helpers import first_edge_pair_batch
    graph = make_csbm(2000, 4, avg_degree=8, num_features=24, seed=0)
    torch.manual_seed(0)
    model = GAE(create_tuned_gnn("sage", 24, 16, num_layers=2), seed=0)
    _, batch, loss, (z, pos, neg) = first_edge_pair_batch(model, graph)
    assert z.size(0) == batch.batch_size < batch.num_nodes          # seed rows only
    with torch.no_grad():
        full = model.encoder(batch.x, batch.edge_index)
    assert torch.allclose(z, full[:batch.batch_size], atol=1e-5)    # ... each one exact
    assert torch.equal(pos, batch.pos_pairs) and pos.size(1) == 32
    assert 28 <= neg.size(1) <= 32 and int(neg.max()) < batch.num_roots == 64
    assert torch.isfinite(loss)


def test_gae_separates_easy_graph_with_its_own_mini_batches(easy):
    set_seed(0)
    model = GAE(GCN(16, 32, num_layers=2, out_channels=16), seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = model.train_loader(easy, mini_batch=True, batch_size=100, fan_out=10, seed=0)
    for epoch in range(20):
        loss = model.train_batch(loader, opt, epoch, verbose=False)
    assert math.isfinite(loss)
    infer = NeighborLoader(easy, num_neighbors=[-1, -1], batch_size=150, seed=0)
    assert _nmi(model, easy, 3, infer) > 0.8


class _ZeroHeads(torch.nn.Module):
    """A two-headed encoder whose heads both output zeros: mu = 0, logstd = 0."""

    def __init__(self, width):
        super().__init__()
        self.width = width

    def forward(self, x, edge_index):
        zeros = x.new_zeros(x.size(0), self.width)
        return zeros, zeros


@pytest.mark.parametrize("scale", [0.1, 1.0])
def test_std_scale_is_the_noise_of_a_zero_log_std_head(scale):
    x, edge_index = torch.zeros(4000, 2), torch.tensor([[0, 1], [1, 0]])
    model = VGAE(_ZeroHeads(8), std_scale=scale, seed=0)
    model.train()
    z = model(x, edge_index)
    assert float(z.std()) == pytest.approx(scale, rel=0.03)
    # The KL term sees the scaled sigma: per node 8 * (sigma^2 - 1 - 2 log sigma) / 2.
    expected = 4 * (scale ** 2 - 1 - 2 * math.log(scale))
    assert float(model.kl_loss()) == pytest.approx(expected, rel=1e-5)
    assert VGAE(_ZeroHeads(8)).std_scale == 0.1  # the documented call gets the default
    model.eval()
    assert torch.equal(model.embed(x, edge_index), torch.zeros(4000, 8))


@pytest.mark.parametrize("bad, error", [(0.0, ValueError), (-1.0, ValueError),
                                        ("0.1", TypeError)])
def test_std_scale_must_be_a_positive_number(bad, error):
    with pytest.raises(error, match="std_scale"):
        VGAE(_ZeroHeads(2), std_scale=bad)


def test_small_noise_scale_lets_small_codes_learn(easy):
    # Small features (as row-normalised ones) give tiny mu at initialisation: a unit noise
    # (the paper's std_scale=1) drowns the reconstruction, the default 0.1 does not.
    small = easy.clone()
    small.x = easy.x * 0.01
    scores = {}
    for scale in (0.1, 1.0):
        set_seed(0)
        model = VGAE(VarEncoder(16, 32, 16), std_scale=scale, seed=0)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        for epoch in range(30):
            model.train_full(small, opt, epoch, verbose=False)
        scores[scale] = _nmi(model, small, 3)
    assert scores[0.1] > 0.9 and scores[1.0] < 0.8
