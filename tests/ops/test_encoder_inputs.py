import torch

from pyagc.ops import first_rows, permute_rows, select_rows, to_sparse_features
from pyagc.ops.negative_sampling import edge_keys, sample_negative_edges


def test_permute_rows_of_csr_matches_dense():
    torch.manual_seed(0)
    x = torch.rand(20, 7)
    x[x < 0.7] = 0
    perm = torch.randperm(20)
    assert torch.equal(permute_rows(x.to_sparse_csr(), perm).to_dense(), x[perm])
    assert torch.equal(permute_rows(x, perm), x[perm])


def test_only_bag_of_words_features_become_csr():
    x = torch.zeros(10, 20)
    x[torch.arange(10), torch.arange(10)] = 1.0          # 5% non-zero
    sparse = to_sparse_features(x)
    assert sparse.layout == torch.sparse_csr and torch.equal(sparse.to_dense(), x)
    x[0, 1] = 1.0                                        # just above 5%
    assert to_sparse_features(x) is x
    assert to_sparse_features(x, max_density=0.1).layout == torch.sparse_csr


def test_negative_samples_avoid_edges():
    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    keys = edge_keys(ei, 3)
    neg = sample_negative_edges(3, 500, keys, generator=torch.Generator().manual_seed(0))
    pairs = set(map(tuple, neg.t().tolist()))
    assert pairs <= {(0, 2), (2, 0)} and pairs


def test_first_rows_slices_dense_and_csr_alike():
    x = (torch.rand(12, 30, generator=torch.Generator().manual_seed(0)) < 0.1).float()
    for rows in (0, 1, 7, 12, 20):
        sliced = first_rows(x.to_sparse_csr(), rows)
        assert sliced.layout == torch.sparse_csr
        assert torch.equal(sliced.to_dense(), x[:rows])
        assert torch.equal(first_rows(x, rows), x[:rows])


def test_first_rows_of_a_short_enough_matrix_is_the_matrix_itself():
    # No slice, so no backward pass that fills a zero gradient of x's size and copies into it.
    x = torch.randn(5, 3, requires_grad=True)
    assert first_rows(x, 5) is x and first_rows(x, 9) is x
    first_rows(x, 5).sum().backward()
    assert x.grad_fn is None and torch.equal(x.grad, torch.ones(5, 3))


def test_select_rows_of_csr_matches_dense_for_any_selection():
    # A subset with repeats (a layer-wise inference block: its targets and their sources).
    torch.manual_seed(1)
    x = torch.rand(12, 5)
    x[x < 0.6] = 0
    index = torch.tensor([3, 0, 3, 11, 7])
    picked = select_rows(x.to_sparse_csr(), index)
    assert picked.layout == torch.sparse_csr and picked.shape == (5, 5)
    assert torch.equal(picked.to_dense(), x[index])
    assert torch.equal(select_rows(x, index), x[index])
