import math

import pytest
import torch
import torch.nn.functional as F

import pyagc.models.ns4gc as ns4gc_module
from pyagc.data import make_csbm
from pyagc.models import NS4GC
from pyagc.models.ns4gc import _SigmoidSum, pair_keys
from pyagc.transforms import GSSLTransform

from _two_view_helpers import make, train_and_score

# A 4-node path 0 - 1 - 2 - 3, both directions.
PATH = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])


def _model(**kwargs):
    return NS4GC(torch.nn.Linear(2, 2), GSSLTransform(), GSSLTransform(), **kwargs)


def _unit(angle_deg):
    a = math.radians(angle_deg)
    return [math.cos(a), math.sin(a)]


def test_terms_match_a_hand_computation_on_four_nodes():
    z1 = [_unit(a) for a in (0, 30, 90, 180)]
    z2 = [_unit(a) for a in (10, 60, 80, 120)]
    s, tau, lam, gam = 0.6, 0.1, 0.7, 1.3
    sim = [[sum(a * b for a, b in zip(z1[i], z2[j])) for j in range(4)] for i in range(4)]
    edges = {(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2)}
    non_edges = [(i, j) for i in range(4) for j in range(4) if i != j and (i, j) not in edges]
    assert len(non_edges) == 6
    ali = -sum(sim[i][i] for i in range(4)) / 4
    nei = -sum(sim[i][j] for i, j in edges) / 6
    sig = lambda v: 1 / (1 + math.exp(-v))
    spa = sum(sig((sim[i][j] - s) / tau) for i, j in non_edges) / 6
    # Unnormalised inputs: the model normalises the rows itself.
    h1 = torch.tensor(z1) * torch.tensor([[2.0], [0.5], [3.0], [1.0]])
    h2 = torch.tensor(z2) * 4.0
    model = _model(s=s, tau=tau, lam=lam, gam=gam)
    out = model.objective(h1, h2, PATH)
    assert out.components["ali"] == pytest.approx(ali, rel=1e-5)
    assert out.components["nei"] == pytest.approx(nei, rel=1e-5)
    assert out.components["spa"] == pytest.approx(spa, rel=1e-5)
    assert float(out.total) == pytest.approx(ali + lam * nei + gam * spa, rel=1e-5)
    # Self-loops and repeated edges change nothing.
    messy = torch.cat([PATH, PATH[:, :2], torch.tensor([[2], [2]])], dim=1)
    again = model.objective(h1, h2, messy)
    assert float(again.total) == pytest.approx(float(out.total), rel=1e-6)


def test_pair_keys_are_sorted_distinct_and_loop_free():
    keys = pair_keys(torch.tensor([[2, 0, 0, 1, 1], [1, 1, 1, 1, 0]]), 3)
    assert keys.tolist() == [0 * 3 + 1, 1 * 3 + 0, 2 * 3 + 1]


@pytest.mark.parametrize("rows", [2, 9])
def test_blocked_sigmoid_sum_and_its_gradient_are_exact(rows):
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(9, 4, dtype=torch.double, generator=gen, requires_grad=True)
    b = torch.randn(9, 4, dtype=torch.double, generator=gen, requires_grad=True)
    fn = lambda a, b: _SigmoidSum.apply(a, b, 0.3, 0.5, rows)
    assert torch.autograd.gradcheck(fn, (a, b))
    dense = torch.sigmoid((a @ b.t() - 0.3) / 0.5).sum()
    assert float(fn(a, b)) == pytest.approx(float(dense), rel=1e-12)
    # The one-block path turns its kept sigmoid into the derivative in place: a second
    # backward pass (retain_graph) must recompute it and give the same gradient.
    out = fn(a, b)
    first = torch.autograd.grad(out, (a, b), retain_graph=True)
    second = torch.autograd.grad(out, (a, b))
    reference = torch.autograd.grad(dense, (a, b))
    for g1, g2, ref in zip(first, second, reference):
        assert torch.allclose(g1, ref) and torch.allclose(g2, ref)


def test_exact_term_in_several_blocks_equals_one_block(monkeypatch):
    graph = make_csbm(40, 2, avg_degree=4, num_features=3, seed=1)
    gen = torch.Generator().manual_seed(0)
    z1 = F.normalize(torch.randn(40, 5, generator=gen), dim=1)
    z2 = F.normalize(torch.randn(40, 5, generator=gen), dim=1)
    keys = pair_keys(graph.edge_index, 40)
    one = _model().non_edge_term(z1, z2, keys, exact=True)
    monkeypatch.setattr(ns4gc_module, "_ONE_BLOCK_ENTRIES", 10)
    monkeypatch.setattr(ns4gc_module, "_BLOCK_ENTRIES", 7 * 40)
    assert float(_model().non_edge_term(z1, z2, keys, exact=True)) == pytest.approx(
        float(one), rel=1e-6)


def test_sampled_non_edge_term_is_an_unbiased_estimate_of_the_exact_one():
    graph = make_csbm(30, 2, avg_degree=6, num_features=3, seed=2)
    gen = torch.Generator().manual_seed(0)
    z1 = F.normalize(torch.randn(30, 4, generator=gen), dim=1)
    z2 = F.normalize(z1 + 0.5 * torch.randn(30, 4, generator=gen), dim=1)
    model = _model(s=0.2, tau=0.3, exact_max_nodes=0, num_samples=50, seed=0)
    keys = pair_keys(graph.edge_index, 30)
    exact = float(model.non_edge_term(z1, z2, keys, exact=True))
    draws = torch.tensor([float(model.non_edge_term(z1, z2, keys)) for _ in range(2000)])
    se = float(draws.std()) / math.sqrt(len(draws))
    assert abs(float(draws.mean()) - exact) < 4 * se
    assert float(draws.std()) > 0  # it is a random estimate
    # The exact value is the mean over the non-edges, computed directly.
    sig = torch.sigmoid((z1 @ z2.t() - 0.2) / 0.3)
    mask = torch.ones(30, 30, dtype=torch.bool)
    mask.fill_diagonal_(False)
    mask[graph.edge_index[0], graph.edge_index[1]] = False
    assert exact == pytest.approx(float(sig[mask].mean()), rel=1e-5)


def test_sampled_pairs_are_non_edges_and_seeded():
    model = _model(num_samples=500, seed=3)
    keys = pair_keys(PATH, 4)
    i, j = model.sample_non_edges(4, keys, torch.device("cpu"))
    assert i.numel() > 0 and bool((i != j).all())
    assert not set(zip(i.tolist(), j.tolist())) & set(zip(*PATH.tolist()))
    assert len(set(zip(i.tolist(), j.tolist()))) == 6  # all six non-edges are drawn
    model.reset_parameters()
    i2, j2 = model.sample_non_edges(4, keys, torch.device("cpu"))
    assert torch.equal(i, i2) and torch.equal(j, j2)


def test_large_graphs_take_the_sampled_path(easy):
    model = make(NS4GC, easy, hidden=8, exact_max_nodes=100, num_samples=1000)
    calls = []
    original = model.sample_non_edges
    model.sample_non_edges = lambda *a: calls.append(1) or original(*a)
    model.loss(easy.x, easy.edge_index).total.backward()
    assert calls  # 300 nodes > exact_max_nodes


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="tau"):
        _model(tau=0.0)
    with pytest.raises(ValueError, match="gam"):
        _model(gam=-1.0)
    with pytest.raises(ValueError, match="num_samples"):
        _model(num_samples=0)


def test_shapes_and_components(easy):
    model = make(NS4GC, easy, hidden=8)
    h1, h2 = model(easy.x, easy.edge_index)
    assert h1.shape == h2.shape == (300, 8) and not torch.equal(h1, h2)
    assert set(model.loss(easy.x, easy.edge_index).components) == {"ali", "nei", "spa"}


def test_separates_an_easy_graph_full_batch(easy):
    assert train_and_score(make(NS4GC, easy), easy, epochs=30) > 0.8


def test_separates_an_easy_graph_with_the_sampled_estimate(easy):
    model = make(NS4GC, easy, exact_max_nodes=0, seed=0)
    assert train_and_score(model, easy, epochs=30) > 0.8


def test_separates_an_easy_graph_mini_batch(easy):
    assert train_and_score(make(NS4GC, easy), easy, epochs=10, mini_batch=True) > 0.8


def test_sampled_term_equals_the_gathered_pairs_with_their_gradients():
    # The sparse sampled product computes the same mean over the same drawn pairs as
    # gathering the two [K, D] row sets, and the same gradients.
    graph = make_csbm(60, 2, avg_degree=6, num_features=3, seed=2)
    gen = torch.Generator().manual_seed(0)
    h1, h2 = torch.randn(60, 8, generator=gen), torch.randn(60, 8, generator=gen)
    keys = pair_keys(graph.edge_index, 60)
    model = _model(s=0.2, tau=0.3, exact_max_nodes=0, num_samples=3000, seed=0)
    a1, a2 = h1.clone().requires_grad_(), h2.clone().requires_grad_()
    fast = model.non_edge_term(F.normalize(a1, dim=1), F.normalize(a2, dim=1), keys)
    fast.backward()
    model.reset_parameters()  # the same draws again
    i, j = model.sample_non_edges(60, keys, torch.device("cpu"))
    b1, b2 = h1.clone().requires_grad_(), h2.clone().requires_grad_()
    z1, z2 = F.normalize(b1, dim=1), F.normalize(b2, dim=1)
    ref = torch.sigmoid(((z1[i] * z2[j]).sum(dim=1) - 0.2) / 0.3).mean()
    ref.backward()
    assert float(fast) == pytest.approx(float(ref), rel=1e-6)
    assert torch.allclose(a1.grad, b1.grad, atol=1e-6)
    assert torch.allclose(a2.grad, b2.grad, atol=1e-6)
