import math

import pytest
import torch

from pyagc.clusters import MinCutClusterHead
from pyagc.clusters.mincut_head import mincut_loss, orthogonality_loss


def _cliques(sizes):
    """Disjoint cliques (both directions, no self-loops) and their one-hot memberships."""
    edges, labels, start = [], [], 0
    for c, size in enumerate(sizes):
        nodes = range(start, start + size)
        edges += [(i, j) for i in nodes for j in nodes if i != j]
        labels += [c] * size
        start += size
    return torch.tensor(edges).t(), torch.tensor(labels)


def _head_giving(s):
    """A head whose assignments of ``z = log(s)`` are exactly ``s``."""
    k = s.size(1)
    head = MinCutClusterHead(k, k)
    with torch.no_grad():
        head.lin.weight.copy_(torch.eye(k))
    return head, torch.log(s.clamp_min(1e-30))


def test_cut_is_minus_one_for_one_hot_s_on_disconnected_cliques():
    edge_index, y = _cliques([4, 3, 5])
    s = torch.nn.functional.one_hot(y, 3).double()
    deg = torch.bincount(edge_index[1], minlength=12).double()
    assert float(mincut_loss(s, edge_index, deg)) == pytest.approx(-1.0, abs=1e-12)
    head, z = _head_giving(s)
    cut, _ = head.double()(z, edge_index)
    assert float(cut.detach()) == pytest.approx(-1.0, abs=1e-9)


def test_ortho_is_zero_for_balanced_one_hot_and_maximal_for_one_cluster():
    y = torch.arange(12) % 4
    assert float(orthogonality_loss(torch.nn.functional.one_hot(y, 4).double())) == \
        pytest.approx(0.0, abs=1e-12)
    collapsed = torch.zeros(12, 4, dtype=torch.double)
    collapsed[:, 0] = 1
    assert float(orthogonality_loss(collapsed)) == pytest.approx(
        math.sqrt(2 - 2 / math.sqrt(4)), abs=1e-12)


def test_losses_match_dense_formulas_on_a_random_graph():
    gen = torch.Generator().manual_seed(0)
    n, k = 30, 4
    dense = (torch.rand(n, n, generator=gen) < 0.2).double()
    dense = torch.triu(dense, 1)
    dense = dense + dense.t()
    edge_index = dense.nonzero().t()
    s = torch.softmax(torch.randn(n, k, generator=gen, dtype=torch.double), dim=1)
    deg = dense.sum(1)
    expected_cut = -torch.trace(s.t() @ dense @ s) / torch.trace(s.t() @ torch.diag(deg) @ s)
    sts = s.t() @ s
    expected_ortho = torch.linalg.norm(sts / torch.linalg.norm(sts) - torch.eye(k) / math.sqrt(k))
    head, z = _head_giving(s)
    cut, ortho = head.double()(z, edge_index)
    assert float(cut) == pytest.approx(float(expected_cut), rel=1e-9)
    # The head's component is the squared norm (see MinCutClusterHead).
    assert float(ortho) == pytest.approx(float(expected_ortho) ** 2, rel=1e-9)
    # Weighted edge list path (no CSR) gives the same value for unit weights.
    cut_w, _ = head(z, edge_index, torch.ones(edge_index.size(1), dtype=torch.double))
    assert float(cut_w) == pytest.approx(float(expected_cut), rel=1e-9)


def test_temperature_sharpens_and_is_checked():
    z = torch.randn(10, 5)
    soft = MinCutClusterHead(3, 5, temperature=1.0)
    sharp = MinCutClusterHead(3, 5, temperature=0.1)
    sharp.load_state_dict(soft.state_dict())
    assert sharp.cluster(z, soft=True).max(1).values.mean() > soft.cluster(z, soft=True).max(1).values.mean()
    assert torch.equal(sharp.cluster(z), soft.cluster(z))
    with pytest.raises(ValueError, match="temperature"):
        MinCutClusterHead(3, 5, temperature=0.0)
    with pytest.raises(ValueError, match="n_clusters"):
        MinCutClusterHead(1, 5)


def test_reset_cluster_centers_assigns_nearest_centre():
    head = MinCutClusterHead(2, 2)
    head.reset_cluster_centers(torch.tensor([[0.0, 0.0], [4.0, 4.0]]))
    labels = head.cluster(torch.tensor([[0.1, -0.2], [3.9, 4.2]]))
    assert labels.tolist() == [0, 1]
    with pytest.raises(ValueError, match="shape"):
        head.reset_cluster_centers(torch.zeros(3, 2))


def test_sparse_product_gradient_uses_the_transpose_of_a_directed_matrix():
    from pyagc.clusters.soft_assignment import sparse_product
    gen = torch.Generator().manual_seed(0)
    dense = (torch.rand(8, 8, generator=gen) < 0.4).double() * torch.rand(8, 8, generator=gen,
                                                                            dtype=torch.double)
    s = torch.randn(8, 3, dtype=torch.double, generator=gen, requires_grad=True)
    torch.autograd.gradcheck(lambda t: sparse_product(dense.to_sparse_csr(), t), (s,))
    out = sparse_product(dense.to_sparse_csr(), s)
    assert torch.allclose(out, dense @ s)
