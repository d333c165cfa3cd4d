import pytest
import torch

from pyagc.ops import normalized_adjacency, polynomial_filter, propagate, spmm


@pytest.fixture
def setup():
    gen = torch.Generator().manual_seed(0)
    ei = torch.randint(0, 12, (2, 40), generator=gen)
    x = torch.randn(12, 5, generator=gen, dtype=torch.float64)
    adj = normalized_adjacency(ei, 12, dtype=torch.float64)
    return adj, adj.to_dense(), x


@pytest.mark.parametrize("K", [0, 1, 3])
def test_propagate_matches_matrix_power(setup, K):
    adj, dense, x = setup
    torch.testing.assert_close(propagate(adj, x, K), torch.linalg.matrix_power(dense, K) @ x)


def test_polynomial_filter(setup):
    adj, dense, x = setup
    coef = [0.5, 0.0, -1.0, 2.0]
    ref = sum(c * torch.linalg.matrix_power(dense, k) @ x for k, c in enumerate(coef))
    torch.testing.assert_close(polynomial_filter(adj, x, coef), ref)


def test_spmm_into_buffer(setup):
    adj, dense, x = setup
    out = torch.full_like(x, float("nan"))
    res = spmm(adj, x, out)
    assert res.data_ptr() == out.data_ptr()
    torch.testing.assert_close(res, dense @ x)


def test_input_not_modified(setup):
    adj, _, x = setup
    before = x.clone()
    propagate(adj, x, 4)
    polynomial_filter(adj, x, [1.0, 1.0, 1.0])
    assert torch.equal(x, before)


def test_errors(setup):
    adj, _, x = setup
    with pytest.raises(ValueError, match="non-negative"):
        propagate(adj, x, -1)
    with pytest.raises(ValueError, match="square"):
        propagate(adj, x[:5], 1)
    with pytest.raises(ValueError, match="c_0"):
        polynomial_filter(adj, x, [])


@pytest.mark.parametrize("K", [1, 3])
def test_column_slabs_propagate_as_the_csr(K, monkeypatch):
    import sys
    from pyagc.ops import ColumnSlabs, normalized_operator
    monkeypatch.setattr(sys.modules["pyagc.ops.propagate"], "SLAB_BYTES", 100)
    gen = torch.Generator().manual_seed(1)
    ei = torch.randint(0, 40, (2, 300), generator=gen)
    x = torch.randn(40, 6, generator=gen)
    op = normalized_operator(ei, 40, 6, 3, dtype=torch.float32)
    assert isinstance(op, ColumnSlabs) and len(op.parts) >= 3
    adj = normalized_adjacency(ei, 40)
    torch.testing.assert_close(spmm(op, x), spmm(adj, x))
    torch.testing.assert_close(propagate(op, x, K), propagate(adj, x, K))
    coefficients = [0.2, 0.5, 0.3, 0.1]
    torch.testing.assert_close(polynomial_filter(op, x, coefficients),
                               polynomial_filter(adj, x, coefficients))
    with pytest.raises(ValueError, match="square"):
        propagate(op, x[:30], K)
