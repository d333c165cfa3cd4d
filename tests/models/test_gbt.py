import pytest
import torch

from pyagc.models import GBT
from pyagc.transforms import GSSLTransform

from _two_view_helpers import make, train_and_score

WHITE = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])


def _model(lam=5e-3):
    return GBT(torch.nn.Linear(2, 2), GSSLTransform(), GSSLTransform(), lam=lam)


def test_loss_is_zero_for_identical_decorrelated_views():
    out = _model().objective(WHITE, 2 * WHITE - 1)
    assert float(out.total) == pytest.approx(0.0, abs=1e-6)
    assert torch.allclose(_model().cross_correlation(WHITE, WHITE), torch.eye(2), atol=1e-6)


def test_loss_matches_a_hand_computation():
    # View 2 flips the sign of column 0: C = diag(-1, 1), so inv = (1 - (-1))^2 = 4, red = 0.
    flipped = WHITE * torch.tensor([-1.0, 1.0])
    out = _model().objective(WHITE, flipped)
    assert out.components["inv"] == pytest.approx(4.0, abs=1e-5)
    assert out.components["red"] == pytest.approx(0.0, abs=1e-6)
    # View 2 = [col0, col0]: C = [[1, 1], [0, 0]]; inv = 0 + 1, red = 1 (C_01 = 1, C_10 = 0).
    same = torch.stack([WHITE[:, 0], WHITE[:, 0]], dim=1)
    lam = 0.25
    out = _model(lam).objective(WHITE, same)
    assert out.components["inv"] == pytest.approx(1.0, abs=1e-5)
    assert out.components["red"] == pytest.approx(1.0, abs=1e-5)
    assert float(out.total) == pytest.approx(1.0 + lam, abs=1e-5)


def test_cross_correlation_is_that_of_the_standardised_columns():
    gen = torch.Generator().manual_seed(0)
    h1, h2 = torch.randn(20, 3, generator=gen), torch.randn(20, 3, generator=gen)
    c = _model().cross_correlation(h1, h2)
    for i in range(3):
        for j in range(3):
            a, b = h1[:, i], h2[:, j]
            ref = ((a - a.mean()) * (b - b.mean())).mean() / (a.std(unbiased=False)
                                                               * b.std(unbiased=False))
            assert float(c[i, j]) == pytest.approx(float(ref), abs=1e-5)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="lam"):
        _model(lam=-0.1)
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        _model().objective(WHITE, WHITE[:, :1])


def test_shapes_and_components(easy):
    model = make(GBT, easy, hidden=8)
    h1, h2 = model(easy.x, easy.edge_index)
    assert h1.shape == h2.shape == (300, 8) and not torch.equal(h1, h2)
    assert set(model.loss(easy.x, easy.edge_index).components) == {"inv", "red"}


def test_separates_an_easy_graph_full_batch(easy):
    assert train_and_score(make(GBT, easy), easy, epochs=30) > 0.8


def test_separates_an_easy_graph_mini_batch(easy):
    assert train_and_score(make(GBT, easy), easy, epochs=10, mini_batch=True) > 0.8
