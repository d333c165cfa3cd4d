import pytest
import torch

from pyagc.ops import degree, to_sparse_adjacency


def test_degree_counts_weights_by_target_on_edge_lists_and_csr():
    ei = torch.tensor([[0, 1, 1, 2, 0], [1, 0, 2, 1, 1]])  # duplicate edge 0 -> 1
    w = torch.tensor([1.0, 2.0, 0.5, 1.5, 3.0])
    assert degree(ei, 4).tolist() == [1.0, 3.0, 1.0, 0.0]
    weighted = degree(ei, 4, w, torch.float64)
    assert weighted.dtype == torch.float64 and weighted.tolist() == [2.0, 5.5, 0.5, 0.0]
    adj_t = to_sparse_adjacency(ei, 4, w, torch.float64)
    assert torch.equal(degree(adj_t, 4, dtype=torch.float64), weighted)


def test_degree_rejects_bad_inputs():
    ei = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="edge_weight"):
        degree(ei, 2, torch.ones(3))
    with pytest.raises(TypeError, match="dtype"):
        degree(ei, 2, dtype=torch.long)
    with pytest.raises(ValueError, match="CSR"):
        degree(to_sparse_adjacency(ei, 2), 2, torch.ones(2))
