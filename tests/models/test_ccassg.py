import math

import pytest
import torch
from torch_geometric.data import Data

from pyagc.encoders import create_tuned_gnn
from pyagc.models import CCASSG
from pyagc.models.two_view import standardize_columns
from pyagc.runner import resolve_config
from pyagc.transforms import GSSLTransform
from pyagc.utils.validation import ConfigError

from _two_view_helpers import make, train_and_score

# Two columns with mean 0, equal variance and no correlation: whitened.
WHITE = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])


def _model(lam=1e-3):
    return CCASSG(torch.nn.Linear(2, 2), GSSLTransform(), GSSLTransform(), lam=lam)


def _hand_standardise(h):
    # The authors' standardisation: sample standard deviation (N - 1), then / sqrt(N).
    n = len(h)
    cols = list(zip(*h))
    out = []
    for col in cols:
        mu = sum(col) / n
        sd = math.sqrt(sum((v - mu) ** 2 for v in col) / (n - 1))
        out.append([(v - mu) / sd / math.sqrt(n) for v in col])
    return [list(r) for r in zip(*out)]


def test_decorrelation_is_constant_for_whitened_embeddings_and_invariance_for_equal_views():
    # Z^T Z = (N - 1) / N I for uncorrelated columns: dec is the constant 2 D / N^2.
    n, d = WHITE.shape
    out = _model().objective(WHITE, WHITE.clone())
    assert out.components["dec"] == pytest.approx(2 * d / n ** 2, abs=1e-6)
    assert out.components["inv"] == pytest.approx(0.0, abs=1e-12)
    # Scale and shift do not matter: the columns are standardised.
    out = _model().objective(3 * WHITE + 5, WHITE)
    assert out.components["dec"] == pytest.approx(2 * d / n ** 2, abs=1e-5)
    assert float(out.total) == pytest.approx(1e-3 * 2 * d / n ** 2, abs=1e-5)


def test_loss_matches_a_hand_computation():
    h1 = [[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]]
    h2 = [[0.5, 1.0], [1.0, 0.0], [2.0, 3.0]]
    z1, z2 = _hand_standardise(h1), _hand_standardise(h2)
    inv = sum((a - b) ** 2 for r1, r2 in zip(z1, z2) for a, b in zip(r1, r2))

    def dec(z):
        return sum((sum(z[k][i] * z[k][j] for k in range(3)) - (i == j)) ** 2
                   for i in range(2) for j in range(2))

    lam = 0.3
    out = _model(lam).objective(torch.tensor(h1), torch.tensor(h2))
    assert out.components["inv"] == pytest.approx(inv, rel=1e-5)
    assert out.components["dec"] == pytest.approx(dec(z1) + dec(z2), rel=1e-5)
    # The total weights the invariance by 1/2, as the authors' code (-tr(Z1^T Z2) + D) does.
    assert float(out.total) == pytest.approx(inv / 2 + lam * (dec(z1) + dec(z2)), rel=1e-5)
    # The invariance term is tr(Z1^T Z1) + tr(Z2^T Z2) - 2 tr(Z1^T Z2), tr(Zk^T Zk) = D (N-1)/N.
    trace = sum(a * b for r1, r2 in zip(z1, z2) for a, b in zip(r1, r2))
    assert inv == pytest.approx(2 * 2 * 2 / 3 - 2 * trace)


def test_analytic_gradients_are_exact():
    torch.manual_seed(0)
    h1 = torch.randn(7, 3, dtype=torch.double, requires_grad=True)
    h2 = torch.randn(7, 3, dtype=torch.double, requires_grad=True)
    model = _model(lam=0.3)
    assert torch.autograd.gradcheck(lambda a, b: model.objective(a, b).total, (h1, h2))
    for unbiased in (False, True):
        assert torch.autograd.gradcheck(
            lambda a: standardize_columns(a, 1e-3, 0.7, unbiased=unbiased), (h1,))

    def reference(a, b):  # the formula with plain autograd
        z = [(v - v.mean(0)) / v.std(0) / math.sqrt(7) for v in (a, b)]
        eye = torch.eye(3, dtype=torch.double)
        dec = sum(((w.t() @ w - eye) ** 2).sum() for w in z)
        return 0.5 * ((z[0] - z[1]) ** 2).sum() + 0.3 * dec

    ours = torch.autograd.grad(model.objective(h1, h2).total, (h1, h2))
    theirs = torch.autograd.grad(reference(h1, h2), (h1, h2))
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, atol=1e-6)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="lam"):
        _model(lam=-1.0)
    with pytest.raises(TypeError, match="encoder"):
        CCASSG("gcn", GSSLTransform(), GSSLTransform())
    with pytest.raises(TypeError, match="transform2"):
        CCASSG(torch.nn.Linear(2, 2), GSSLTransform(), 0.5)
    with pytest.raises(ValueError, match="at least 2 nodes"):
        _model().objective(WHITE[:1], WHITE[:1])


def test_two_views_differ_and_are_seeded(easy):
    config = resolve_config("CCASSG", overrides={"model.encoder.hidden_channels": 8})
    a = CCASSG.from_config(config["model"], easy, 3, seed=0)
    b = CCASSG.from_config(config["model"], easy, 3, seed=0)
    c = CCASSG.from_config(config["model"], easy, 3, seed=1)
    va, vb, vc = (m.views(easy.x, easy.edge_index) for m in (a, b, c))
    assert va[0].edge_index.size(1) < easy.edge_index.size(1)
    assert not torch.equal(va[0].edge_index, va[1].edge_index)      # the two views differ
    assert torch.equal(va[0].edge_index, vb[0].edge_index)          # same seed, same views
    assert torch.equal(va[1].x, vb[1].x)
    assert not torch.equal(va[0].edge_index, vc[0].edge_index)      # another seed
    # reset_parameters restarts the views' streams.
    a.reset_parameters()
    again = a.views(easy.x, easy.edge_index)
    assert torch.equal(again[0].edge_index, va[0].edge_index)
    with pytest.raises(ConfigError, match="p_feat_mask_1"):
        CCASSG.from_config({**config["model"], "p_feat_mask_1": 1.5}, easy, 3, seed=0)


def test_csr_feature_path_gives_the_dense_views():
    # Bag-of-words features: a TunedGCN runs on CSR, and the model masks the CSR copy.
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(50, 120, generator=gen) < 0.03).float()
    edge_index = torch.randint(50, (2, 200), generator=gen)
    data = Data(x=x, edge_index=edge_index)
    encoder = create_tuned_gnn("gcn", 120, 8, num_layers=2)
    # Column masks draw the same dimensions on the CSR copy as on the dense matrix (entry
    # masks draw per stored entry: tests/transforms/test_feat_mask_mode.py).
    model = CCASSG(encoder, GSSLTransform(0.3, 0.3, seed=1, feat_mask_mode="column"),
                   GSSLTransform(0.3, 0.3, seed=2, feat_mask_mode="column"))
    h1, h2 = model(x, edge_index)
    assert model._csr_features(x) is not None
    t1 = GSSLTransform(0.3, 0.3, seed=1, feat_mask_mode="column")
    t2 = GSSLTransform(0.3, 0.3, seed=2, feat_mask_mode="column")
    v1, v2 = t1(data), t2(data)
    assert torch.allclose(h1, encoder(v1.x, v1.edge_index), atol=1e-5)
    assert torch.allclose(h2, encoder(v2.x, v2.edge_index), atol=1e-5)
    assert not torch.allclose(h1, h2)


def test_shapes_and_components(easy):
    model = make(CCASSG, easy, hidden=8)
    h1, h2 = model(easy.x, easy.edge_index)
    assert h1.shape == h2.shape == (300, 8)
    out = model.loss(easy.x, easy.edge_index)
    assert set(out.components) == {"inv", "dec"} and out.total.requires_grad
    assert model.embed(easy.x, easy.edge_index).shape == (300, 8)


def test_separates_an_easy_graph_full_batch(easy):
    assert train_and_score(make(CCASSG, easy), easy, epochs=30) > 0.8


def test_separates_an_easy_graph_mini_batch(easy):
    assert train_and_score(make(CCASSG, easy), easy, epochs=10, mini_batch=True) > 0.8
