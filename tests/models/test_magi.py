import math

import pytest
import torch
import torch.nn.functional as F

from pyagc.clusters import TorchKMeans
from pyagc.data import make_csbm
from pyagc.encoders import create_tuned_gnn
from pyagc.metrics import label_metrics
from pyagc.models import MAGI
from pyagc.models.magi import (MAGINeighborLoader, modularity_info_nce,
                               precompute_full_graph_positive_pairs)
from pyagc.utils import set_seed


def nmi(z, y, k=3):
    pred = TorchKMeans(n_clusters=k, n_init=5, random_state=0).fit_predict(F.normalize(z, dim=1))
    return label_metrics(y, pred, metrics=("NMI",))["NMI"]


@pytest.fixture(scope="module")
def structural():
    """Three communities that only the graph reveals: pure-noise features, strong blocks.
    An untrained encoder averages the noise over neighbours and reaches NMI ~0.5 only."""
    return make_csbm(300, 3, avg_degree=20, homophily=0.95, num_features=64,
                     feature_signal=0.0, seed=0)


def make(data, seed=0, **kwargs):
    set_seed(seed)
    encoder = create_tuned_gnn("gcn", data.num_features, 32, num_layers=1)
    return MAGI(encoder, **kwargs)


def reference_loss(z, pairs, tau):
    """The loss written out pair by pair."""
    total = 0.0
    for v, u in pairs.t().tolist():
        others = [math.exp(float(z[v] @ z[w]) / tau) for w in range(z.size(0)) if w != v]
        total -= float(z[v] @ z[u]) / tau - math.log(sum(others))
    return total / pairs.size(1)


@pytest.mark.parametrize("bf16", [False, True])
def test_loss_matches_the_formula_and_its_blocks_and_gradient(bf16):
    torch.manual_seed(0)
    z0 = F.normalize(torch.randn(30, 6, dtype=torch.float64), dim=1)
    pairs = torch.tensor([[0, 1, 1, 5, 29, 7], [1, 0, 2, 9, 3, 7 - 6]])
    expected = reference_loss(z0, pairs, 0.4)
    z = z0.float() if bf16 else z0
    tol = 2e-3 if bf16 else 1e-10
    full = z.clone().requires_grad_()
    value = modularity_info_nce(full, pairs, 0.4, bf16=bf16)
    assert float(value) == pytest.approx(expected, rel=tol)
    value.backward()
    # Blocks of 4 anchor rows (recomputed in backward) give the same value and gradient.
    blocks = z.clone().requires_grad_()
    blocked = modularity_info_nce(blocks, pairs, 0.4, block_entries=4 * 30, bf16=bf16)
    blocked.backward()
    assert float(blocked) == pytest.approx(float(value), rel=tol)
    assert torch.allclose(blocks.grad, full.grad, atol=tol)
    if not bf16:
        auto = z0.clone().requires_grad_()
        sim = auto @ auto.t() / 0.4
        sim = sim.masked_fill(torch.eye(30, dtype=torch.bool), float("-inf"))
        (torch.logsumexp(sim, 1)[pairs[0]] - sim[pairs[0], pairs[1]]).mean().backward()
        assert torch.allclose(full.grad, auto.grad, atol=1e-12)


@pytest.mark.parametrize("rows_per_block", [12, 5])
@pytest.mark.parametrize("per_anchor", [False, True])
@pytest.mark.parametrize("all_anchors", [True, False])
def test_every_node_an_anchor_uses_the_symmetric_gradient(rows_per_block, per_anchor,
                                                          all_anchors):
    """One block kept from the forward pass, or blocks of 5 rows (the last one short)
    recomputed, anchors with 1 or 3 positives, every node an anchor or all but one (11 of 12,
    above ALL_ROWS_SHARE: the symmetric form with a zero-weight row): value and gradient equal
    autograd's."""
    torch.manual_seed(1)
    z0 = F.normalize(torch.randn(12, 5, dtype=torch.float64), dim=1)
    z0[3] *= 0.5  # rows of different norms: different row shifts
    pairs = torch.cat([torch.stack([torch.arange(12), (torch.arange(12) + 1) % 12]),
                       torch.tensor([[0, 0], [5, 7]])], dim=1)
    if not all_anchors:
        pairs = pairs[:, pairs[0] != 11]  # node 11 stays a positive of node 10 only
    ours = z0.clone().requires_grad_()
    value = modularity_info_nce(ours, pairs, 0.5, bf16=False, per_anchor=per_anchor,
                                block_entries=rows_per_block * 12)
    value.backward()
    auto = z0.clone().requires_grad_()
    sim = (auto @ auto.t() / 0.5).masked_fill(torch.eye(12, dtype=torch.bool), float("-inf"))
    terms = torch.logsumexp(sim, 1)[pairs[0]] - sim[pairs[0], pairs[1]]
    if per_anchor:  # each anchor's pairs averaged, then the anchors
        counts = torch.bincount(pairs[0], minlength=12).double()
        expected = (terms / counts[pairs[0]]).sum() / int((counts > 0).sum())
    else:
        expected = terms.mean()
    expected.backward()
    assert float(value) == pytest.approx(float(expected), rel=1e-7)  # float32 pair weights
    assert torch.allclose(ours.grad, auto.grad, atol=1e-12)


def test_embed_scales_rows_to_the_unit_interval(easy):
    model = make(easy, tau=0.5)
    h = model.embed(easy.x, easy.edge_index)
    assert h.shape == (easy.num_nodes, 32)
    assert torch.allclose(h.min(1).values, torch.zeros(easy.num_nodes), atol=1e-6)
    assert torch.allclose(h.max(1).values, torch.ones(easy.num_nodes), atol=1e-6)
    raw = make(easy, tau=0.5, scale_embeddings=False)
    assert torch.allclose(raw.embed(easy.x, easy.edge_index),
                          raw.encoder(easy.x, easy.edge_index))


def test_full_graph_training_separates_the_communities(structural):
    g = structural
    pairs = precompute_full_graph_positive_pairs(g, num_walks=20, walk_length=2, seed=0)
    model = make(g, tau=0.3)
    assert nmi(model.embed(g.x, g.edge_index).detach(), g.y) < 0.7
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(60):
        opt.zero_grad()
        model.loss(g.x, g.edge_index, pairs).total.backward()
        opt.step()
    model.eval()
    assert nmi(model.embed(g.x, g.edge_index).detach(), g.y) > 0.8


def test_mini_batch_training_separates_the_communities(structural):
    g = structural
    model = make(g, tau=0.3)
    assert nmi(model.embed(g.x, g.edge_index).detach(), g.y) < 0.7
    loader = MAGINeighborLoader(g, [10], num_walks=10, walk_length=2, batch_size=64,
                                shuffle=True, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(1, 6):
        model.train_batch(loader, opt, epoch, verbose=False)
    model.eval()
    assert nmi(model.embed(g.x, g.edge_index).detach(), g.y) > 0.8


def test_same_seed_same_pairs(easy):
    a = precompute_full_graph_positive_pairs(easy, 10, 2, seed=3)
    b = precompute_full_graph_positive_pairs(easy, 10, 2, seed=3)
    c = precompute_full_graph_positive_pairs(easy, 10, 2, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_errors_name_the_problem(easy, monkeypatch):
    model = make(easy, tau=0.5)
    pairs = precompute_full_graph_positive_pairs(easy, 5, 2, seed=0)
    with pytest.raises(ValueError, match=r"\[2, num_pairs\]"):
        model.loss(easy.x, easy.edge_index, pairs[0])
    with pytest.raises(ValueError, match="another graph"):
        model.loss(easy.x, easy.edge_index, pairs + easy.num_nodes)
    with pytest.raises(ValueError, match="MAGINeighborLoader"):
        model.loss_batch(easy)
    with pytest.raises(ValueError, match="tau"):
        make(easy, tau=0.0)
    with pytest.raises(ValueError, match="num_walks"):
        make(easy, num_walks=0)
    monkeypatch.setattr(MAGI, "full_graph_max_nodes", 100)
    with pytest.raises(ValueError, match="O\\(N\\^2\\).*--mini-batch"):
        model.loss(easy.x, easy.edge_index, pairs)
    with pytest.raises(ValueError, match="full_graph_max_nodes"):
        model.train_loader(easy)


@pytest.mark.parametrize("minmax", [True, False])
def test_scaled_unit_rows_match_the_composed_torch_operations(minmax):
    """The hand-written gradient of normalize(minmax(h)) equals autograd's through the
    composed operations, a constant row (clamped span) and a zero row (clamped norm) included."""
    from pyagc.models.magi import _UnitScaledRows
    torch.manual_seed(0)
    h0 = torch.randn(7, 5, dtype=torch.float64)
    h0[3] = 0.25
    h0[5] = 0.0
    g = torch.randn(7, 5, dtype=torch.float64)
    ours = h0.clone().requires_grad_()
    z = _UnitScaledRows.apply(ours, minmax)
    (z * g).sum().backward()
    auto = h0.clone().requires_grad_()
    u = auto
    if minmax:
        low, high = auto.min(1, keepdim=True).values, auto.max(1, keepdim=True).values
        u = (auto - low) / (high - low).clamp_min(1e-12)
    expected = F.normalize(u, p=2, dim=1)
    (expected * g).sum().backward()
    assert torch.allclose(z, expected, atol=1e-14)
    assert torch.allclose(ours.grad, auto.grad, atol=1e-10)


def test_default_precision_is_float32_for_small_products_and_bf16_for_large(monkeypatch):
    """bf16=None: bfloat16 only where it is fast and the similarity product n^2 d reaches
    BF16_MIN_PRODUCT; a tiny graph keeps the exact float32 value even on an AMX CPU, a large
    product (the Products mini-batches, the 1M-node path) takes bfloat16, and a CPU without
    fast bfloat16 never does."""
    import pyagc.models.magi as magi
    cpu = torch.device("cpu")
    monkeypatch.setattr(magi, "bf16_matmul_is_fast", lambda device: True)
    assert not magi.use_bf16(30, 6, cpu)
    assert magi.use_bf16(22_700, 256, cpu)  # a Products mini-batch of expanded nodes
    assert magi.use_bf16(2708, 512, cpu)  # Cora, full graph
    side = math.isqrt(magi.BF16_MIN_PRODUCT // 32)
    assert not magi.use_bf16(side - 1, 32, cpu) and magi.use_bf16(side + 1, 32, cpu)
    seen = []
    apply = magi._ModularityInfoNCE.apply
    monkeypatch.setattr(magi._ModularityInfoNCE, "apply",
                        lambda z, pairs, tau, rows, bf16: seen.append(bf16) or apply(
                            z, pairs, tau, rows, bf16))
    torch.manual_seed(0)
    for n in (30, side + 1):
        z = F.normalize(torch.randn(n, 32), dim=1)
        pairs = torch.stack([torch.arange(n), torch.arange(n).roll(1)])
        value = modularity_info_nce(z, pairs, 0.5)
        exact = modularity_info_nce(z, pairs, 0.5, bf16=False)
        if n == 30:
            assert float(value) == float(exact)
    assert seen == [False, False, True, False]
    monkeypatch.setattr(magi, "bf16_matmul_is_fast", lambda device: False)
    assert not magi.use_bf16(22_700, 256, cpu)
