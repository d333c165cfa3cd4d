import torch
from torch_geometric.utils import to_undirected

from pyagc.encoders import create_tuned_gnn
import pytest

from pyagc.ops.sparse import (csr_matmul, csr_pattern, pattern_sddmm, pattern_spmm,
                              transpose_csr)


def test_csr_matmul_gradient_goes_through_the_given_transpose():
    g = torch.Generator().manual_seed(0)
    dense_a = (torch.rand(7, 5, generator=g, dtype=torch.double) < 0.4).double()
    dense_a *= torch.rand(7, 5, generator=g, dtype=torch.double)
    a = dense_a.to_sparse_csr()
    x = torch.randn(5, 3, generator=g, dtype=torch.double, requires_grad=True)
    assert torch.allclose(transpose_csr(a).to_dense(), dense_a.t())
    torch.autograd.gradcheck(lambda t: csr_matmul(a, t, transpose_csr(a)), (x,))
    out = csr_matmul(a, x, transpose_csr(a))
    assert torch.allclose(out, dense_a @ x)
    # A wrong "transpose" shows in the gradient: the given one is what the backward uses.
    fake = torch.zeros(5, 7, dtype=torch.double).to_sparse_csr()
    csr_matmul(a, x, fake).sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_csr_matmul_without_grad_writes_every_row():
    """The no-grad product (written into an uninitialised result) fills the rows without
    entries with zeros, for a transposed (non-contiguous) operand too, and an all-zero matrix
    gives zeros."""
    dense_a = torch.zeros(6, 4)
    dense_a[0, 1], dense_a[4, 3] = 2.0, -1.0
    w = torch.randn(3, 4)
    for _ in range(3):  # reuse freed memory of earlier results
        garbage = torch.full((6, 3), float("nan"))
        del garbage
        out = csr_matmul(dense_a.to_sparse_csr(), w.t())
        assert torch.equal(out, dense_a @ w.t())
        assert torch.equal(csr_matmul(torch.zeros(6, 4).to_sparse_csr(), w.t()),
                           torch.zeros(6, 3))


def test_gcn_on_csr_inputs_has_the_dense_gradients():
    torch.manual_seed(3)
    x = (torch.rand(40, 30) < 0.04).float()
    ei = torch.randint(0, 40, (2, 160))
    ei = to_undirected(ei[:, ei[0] != ei[1]])  # no duplicate edges, no self-loops
    auto = create_tuned_gnn("gcn", 30, 8, 2, act="selu", cached=True)
    off = create_tuned_gnn("gcn", 30, 8, 2, act="selu", sparse_inputs="off")
    off.load_state_dict(auto.state_dict())
    for _ in range(2):  # the second pass uses the cached transposes
        for enc in (auto, off):
            enc.zero_grad()
            (enc(x, ei) ** 2).sum().backward()
        for (name, p), q in zip(auto.named_parameters(), off.parameters()):
            assert torch.allclose(p.grad, q.grad, atol=1e-5), name


def _pairs(generator):
    # Unsorted pairs of a [6, 4] matrix, one of them twice.
    row = torch.tensor([5, 0, 3, 0, 2, 5, 1, 3])
    col = torch.tensor([1, 3, 0, 2, 2, 1, 0, 3])
    return row, col


def test_pattern_spmm_is_the_weighted_sum_over_the_pairs_with_both_gradients():
    g = torch.Generator().manual_seed(1)
    row, col = _pairs(g)
    pattern = csr_pattern(row, col, 6, 4)
    values = torch.randn(row.numel(), generator=g, dtype=torch.double, requires_grad=True)
    dense = torch.randn(4, 3, generator=g, dtype=torch.double, requires_grad=True)
    out = pattern_spmm(pattern, values[pattern.order], dense)
    # By hand: out[r] = sum over the pairs (r, c) of value * dense[c] (the repeat counts twice).
    expected = torch.zeros(6, 3, dtype=torch.double)
    for e in range(row.numel()):
        expected[row[e]] += values[e].detach() * dense[col[e]].detach()
    assert torch.allclose(out, expected)
    torch.autograd.gradcheck(lambda v, d: pattern_spmm(pattern, v[pattern.order], d),
                             (values, dense))


def test_pattern_sddmm_gives_the_pair_dot_products_in_input_order_with_both_gradients():
    g = torch.Generator().manual_seed(2)
    row, col = _pairs(g)
    pattern = csr_pattern(row, col, 6, 4)
    a = torch.randn(6, 5, generator=g, dtype=torch.double, requires_grad=True)
    b = torch.randn(4, 5, generator=g, dtype=torch.double, requires_grad=True)
    out = pattern_sddmm(pattern, a, b)
    assert torch.allclose(out, (a[row] * b[col]).sum(-1))
    torch.autograd.gradcheck(lambda x, y: pattern_sddmm(pattern, x, y), (a, b))
    # The transpose: pattern.matrix_t is the transposed matrix.
    vals = torch.arange(1.0, row.numel() + 1, dtype=torch.double)
    assert torch.equal(pattern.matrix_t(vals).to_dense(), pattern.matrix(vals).to_dense().t())


def test_sddmm_and_spmm_take_more_repeated_pairs_than_the_matrix_has_entries():
    # 40 pairs on a 3 x 4 matrix (12 entries): repeats beyond the size of the matrix.
    g = torch.Generator().manual_seed(4)
    row, col = torch.randint(3, (40,), generator=g), torch.randint(4, (40,), generator=g)
    pattern = csr_pattern(row, col, 3, 4)
    a = torch.randn(3, 5, generator=g, dtype=torch.double, requires_grad=True)
    b = torch.randn(4, 5, generator=g, dtype=torch.double, requires_grad=True)
    assert torch.allclose(pattern_sddmm(pattern, a, b), (a[row] * b[col]).sum(-1))
    torch.autograd.gradcheck(lambda x, y: pattern_sddmm(pattern, x, y), (a, b))
    values = torch.randn(40, generator=g, dtype=torch.double, requires_grad=True)
    torch.autograd.gradcheck(lambda v, d: pattern_spmm(pattern, v[pattern.order], d),
                             (values, b))


def test_csr_pattern_checks_its_pairs():
    with pytest.raises(ValueError, match="out of range"):
        csr_pattern(torch.tensor([0, 6]), torch.tensor([0, 1]), 6, 4)
    with pytest.raises(ValueError, match="same length"):
        csr_pattern(torch.tensor([0, 1]), torch.tensor([0]), 6, 4)
    empty = csr_pattern(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 3, 3)
    assert torch.equal(pattern_spmm(empty, torch.zeros(0), torch.ones(3, 2)), torch.zeros(3, 2))
