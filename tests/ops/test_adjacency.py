import numpy as np
import pytest
import torch

from pyagc.ops import (adjacency_csr, cached_adjacency_and_degree, degree, normalize_csr,
                       normalized_adjacency, to_sparse_adjacency)


@pytest.fixture
def graph():
    # directed, with a duplicate edge, an existing self-loop (node 2) and an isolated node (5)
    ei = torch.tensor([[0, 1, 1, 2, 3, 0, 0, 2], [1, 0, 2, 3, 0, 3, 1, 2]])
    w = torch.tensor([1.0, 2.0, 0.5, 1.5, 1.0, 3.0, 0.25, 4.0])
    return ei, w, 6


@pytest.mark.parametrize("r", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("self_loops", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
def test_normalized_adjacency_matches_dense(graph, r, self_loops, weighted, dense_adjacency):
    ei, w, n = graph
    w = w if weighted else None
    adj = normalized_adjacency(ei, n, w, add_self_loops=self_loops, r=r, dtype=torch.float64)
    assert adj.layout == torch.sparse_csr
    torch.testing.assert_close(adj.to_dense(), dense_adjacency(ei, n, w, self_loops, r))


def test_isolated_node_rows(graph):
    ei, _, n = graph
    adj = normalized_adjacency(ei, n).to_dense()
    assert adj[5].tolist() == [0, 0, 0, 0, 0, 1.0]          # self-loop only
    adj = normalized_adjacency(ei, n, add_self_loops=False).to_dense()
    assert adj[5].abs().sum() == 0 and adj[:, 5].abs().sum() == 0


def test_degree_and_symmetry():
    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    adj, deg = normalized_adjacency(ei, 3, return_degree=True, dtype=torch.float64)
    assert deg.tolist() == [2.0, 3.0, 2.0]
    dense = adj.to_dense()
    torch.testing.assert_close(dense, dense.T)
    assert adjacency_csr(ei, 3).nnz == 7


def test_bad_inputs():
    ei = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="edge_weight"):
        normalized_adjacency(ei, 2, torch.ones(3))
    with pytest.raises(ValueError, match="negative"):
        normalized_adjacency(ei, 2, torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="only 2 nodes"):
        normalized_adjacency(torch.tensor([[0, 2], [1, 0]]), 2)
    with pytest.raises(ValueError, match="shape"):
        normalized_adjacency(ei.t().reshape(4), 2)
    with pytest.raises(ValueError, match="finite"):
        normalized_adjacency(ei, 2, r=float("nan"))


def test_normalize_csr_leaves_its_input_and_matches_normalized_adjacency(graph):
    edge_index, weight, n = graph
    matrix = adjacency_csr(edge_index, n, weight)
    before = matrix.data.copy()
    deg = np.asarray(matrix.sum(axis=1)).ravel()
    for r in (0.0, 0.3, 1.0):
        scaled = normalize_csr(matrix, deg, r)
        ref = normalized_adjacency(edge_index, n, weight, r=r, dtype=torch.float64)
        assert np.allclose(scaled.toarray(), ref.to_dense().numpy())
    assert np.array_equal(matrix.data, before)
    with pytest.raises(ValueError, match="deg"):
        normalize_csr(matrix, deg[:-1], 0.5)


def test_sparse_adjacency_is_the_transposed_adjacency():
    ei = torch.tensor([[0, 0, 2], [1, 2, 1]])
    adj_t = to_sparse_adjacency(ei, 3).to_dense()
    dense = torch.zeros(3, 3)
    dense[ei[0], ei[1]] = 1
    assert torch.equal(adj_t, dense.t())
    w = torch.tensor([1.0, 2.0, 3.0])
    weighted = to_sparse_adjacency(ei, 3, w, torch.float64)
    assert weighted.values().dtype == torch.float64 and weighted.to_dense()[1, 2] == 3.0


def test_cached_adjacency_and_degree_is_kept_per_graph_and_dtype():
    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    adj, deg = cached_adjacency_and_degree(ei, 3)
    assert torch.equal(adj.to_dense(), to_sparse_adjacency(ei, 3).to_dense())
    assert torch.equal(deg, degree(ei, 3))
    assert cached_adjacency_and_degree(ei, 3)[0] is adj
    double, deg64 = cached_adjacency_and_degree(ei, 3, torch.float64)
    assert double.values().dtype == torch.float64 and deg64.dtype == torch.float64
    ei[:, 0] = torch.tensor([0, 2])                      # an edited graph is converted afresh
    again, deg = cached_adjacency_and_degree(ei, 3, torch.float64)
    assert again is not double and deg.tolist() == [1.0, 1.0, 2.0]


def test_aggregation_csr_sums_or_averages_in_neighbours():
    from pyagc.ops import aggregation_csr
    # Edges j -> i, unsorted, one repeated; node 3 has no in-edges; 5 sources, 4 targets.
    edge_index = torch.tensor([[4, 0, 1, 1, 2, 1], [2, 0, 0, 0, 2, 1]])
    x = torch.arange(10.0).view(5, 2)
    summed = aggregation_csr(edge_index, 4, 5, mean=False)
    assert summed.layout == torch.sparse_csr and summed.shape == (4, 5)
    expected_sum = torch.stack([x[0] + 2 * x[1], x[1], x[4] + x[2], torch.zeros(2)])
    assert torch.equal(summed @ x, expected_sum)
    mean = aggregation_csr(edge_index, 4, 5)
    expected_mean = expected_sum / torch.tensor([3.0, 1.0, 2.0, 1.0]).unsqueeze(1)
    assert torch.allclose(mean @ x, expected_mean)


@pytest.fixture
def tiny_slab_bytes(monkeypatch):
    """Make ``normalized_operator`` cut even a tiny graph into column slabs."""
    import sys
    monkeypatch.setattr(sys.modules["pyagc.ops.propagate"], "SLAB_BYTES", 64)


def _slabs_dense(op):
    return torch.cat([part.to_dense() for part in op.parts], dim=1)


@pytest.mark.parametrize("r", [0.0, 0.5])
@pytest.mark.parametrize("self_loops", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("sort_by_source", [True, False])
def test_normalized_operator_slabs_equal_the_csr(graph, r, self_loops, weighted, sort_by_source,
                                                  tiny_slab_bytes, dense_adjacency):
    from pyagc.ops import ColumnSlabs, normalized_operator
    ei, w, n = graph
    if sort_by_source:
        order = torch.argsort(ei[0], stable=True)
        ei, w = ei[:, order], w[order]
    w = w if weighted else None
    op = normalized_operator(ei, n, 4, 2, w, self_loops, r=r, dtype=torch.float64)
    assert isinstance(op, ColumnSlabs) and len(op.parts) > 1
    assert op.bounds[0] == 0 and op.bounds[-1] == n and op.size() == (n, n)
    assert [part.size(1) for part in op.parts] == list(np.diff(op.bounds))
    ref = normalized_adjacency(ei, n, w, add_self_loops=self_loops, r=r, dtype=torch.float64)
    # the duplicate edge 0 -> 1 is scaled before it is summed: equal up to rounding
    torch.testing.assert_close(_slabs_dense(op), ref.to_dense(), rtol=1e-15, atol=1e-15)
    torch.testing.assert_close(_slabs_dense(op), dense_adjacency(ei, n, w, self_loops, r))


def test_normalized_operator_slabs_are_exact_without_repeated_edges(tiny_slab_bytes):
    from pyagc.ops import normalized_operator
    gen = torch.Generator().manual_seed(0)
    ei = torch.unique(torch.randint(0, 50, (2, 400), generator=gen), dim=1)
    w = torch.rand(ei.size(1), generator=gen)
    for weight in (None, w):
        op = normalized_operator(ei, 50, 8, 3, weight)
        assert torch.equal(_slabs_dense(op), normalized_adjacency(ei, 50, weight).to_dense())


def test_normalized_operator_keeps_one_csr_when_slabs_do_not_pay(graph, tiny_slab_bytes):
    from pyagc.ops import normalized_operator
    ei, w, n = graph
    ref = normalized_adjacency(ei, n, w)
    for hops, device in ((1, "cpu"), (0, "cpu")):
        op = normalized_operator(ei, n, 4, hops, w, device=device)
        assert op.layout == torch.sparse_csr and torch.equal(op.to_dense(), ref.to_dense())


def test_normalized_operator_small_graph_unchanged(graph):
    # Cora-sized operands stay far below SLAB_BYTES: the very same CSR as before
    from pyagc.ops import normalized_operator
    ei, w, n = graph
    op = normalized_operator(ei, n, 1433, 16, w)
    assert op.layout == torch.sparse_csr
    assert torch.equal(op.to_dense(), normalized_adjacency(ei, n, w).to_dense())
