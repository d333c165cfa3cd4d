import pytest
import torch

from pyagc.clusters import DMoNClusterHead, MinCutClusterHead, NeuromapClusterHead, SBMClusterHead
from pyagc.clusters.soft_assignment import SoftAssignmentHead


def test_xavier_centres_are_one_seeded_glorot_draw_without_bias():
    torch.manual_seed(5)
    head = SoftAssignmentHead(7, 32, init="xavier", bias=False)
    torch.manual_seed(5)
    expected = torch.nn.init.xavier_uniform_(torch.empty(7, 32))
    assert torch.equal(head.lin.weight.detach(), expected)
    assert head.lin.bias is None
    bound = (6 / (7 + 32)) ** 0.5
    assert float(head.lin.weight.abs().max()) <= bound


@pytest.mark.parametrize("head", [MinCutClusterHead(4, 16), NeuromapClusterHead(4, 16),
                                  SBMClusterHead(4, 16)])
def test_graph_objective_heads_score_by_inner_product_with_centres(head):
    z = torch.randn(5, 16)
    expected = torch.softmax(z @ head.lin.weight.detach().t(), dim=1)
    assert torch.allclose(head.cluster(z, soft=True), expected)
    assert head.lin.bias is None


def test_dmon_head_keeps_its_orthogonal_projection_and_bias():
    head = DMoNClusterHead(4, 16)
    w = head.lin.weight.detach()
    assert torch.allclose(w @ w.t(), torch.eye(4), atol=1e-5)
    assert torch.equal(head.lin.bias.detach(), torch.zeros(4))


def test_unknown_init_is_refused():
    with pytest.raises(ValueError, match="init must be one of"):
        SoftAssignmentHead(3, 4, init="kaiming")


def _blobs(n_per=40, k=3, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = 4 * torch.randn(k, dim, generator=g)
    y = torch.arange(k).repeat_interleave(n_per)
    return centres[y] + 0.3 * torch.randn(k * n_per, dim, generator=g), y


def _same_partition(a, b):
    # One cluster per class and one class per cluster: a relabelling of the truth.
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("head", [DMoNClusterHead(3, 8), MinCutClusterHead(3, 8),
                                  MinCutClusterHead(3, 8, temperature=0.25)])
def test_start_from_kmeans_assigns_the_kmeans_partition_softly(head):
    z, y = _blobs()
    head.start_from_kmeans(z, random_state=0)
    s = head.cluster(z, soft=True)
    assert _same_partition(s.argmax(1), y)
    # Soft, not one-hot: the objective can still move nodes (rows' top share well below 1).
    assert float(s.max(1).values.median()) < 0.99
    assert float(s.max(1).values.median()) > 1 / 3 + 0.05


def test_start_from_kmeans_compensates_the_temperature():
    z, _ = _blobs()
    soft = [MinCutClusterHead(3, 8, temperature=t) for t in (1.0, 0.2)]
    for head in soft:
        head.start_from_kmeans(z, random_state=3)
    assert torch.allclose(soft[0].cluster(z, soft=True), soft[1].cluster(z, soft=True),
                          atol=1e-5)
