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
