import pytest
import torch

from pyagc.clusters import DinkClusterHead
from pyagc.clusters.dink_head import dilation_loss, shrink_loss


def test_dilation_loss_is_minus_the_mean_pairwise_squared_distance():
    centers = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    # pairs: 9, 16, 25 (each counted twice over i != j) -> mean 50/3.
    assert float(dilation_loss(centers)) == pytest.approx(-50.0 / 3.0)


def test_dilation_loss_grows_as_centres_approach():
    base = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    values = [float(dilation_loss(base * s)) for s in (4.0, 2.0, 1.0, 0.5, 0.0)]
    assert values == sorted(values) and values[-1] == pytest.approx(0.0)


def test_shrink_loss_is_zero_when_every_node_sits_on_its_centre():
    centers = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    z = centers[torch.tensor([0, 2, 1, 1, 0])]
    assert float(shrink_loss(z, centers)) == pytest.approx(0.0, abs=1e-6)
    moved = z + torch.tensor([0.5, 0.0])
    assert float(shrink_loss(moved, centers)) == pytest.approx(0.25, rel=1e-5)


def test_head_losses_gradients_and_clustering():
    head = DinkClusterHead(3, 2)
    centers = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    head.reset_cluster_centers(centers)
    z = torch.tensor([[0.2, 0.1], [2.8, 0.0], [0.1, 3.9]], requires_grad=True)
    dilation, shrink = head(z)
    assert float(dilation) == pytest.approx(float(dilation_loss(centers)))
    (dilation + shrink).backward()
    assert head.cluster_centers.grad is not None and z.grad is not None
    assert head.cluster(z).tolist() == [0, 1, 2]
    soft = head.cluster(z, soft=True)
    assert torch.allclose(soft.sum(1), torch.ones(3)) and soft.argmax(1).tolist() == [0, 1, 2]


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_clusters"):
        DinkClusterHead(1, 4)
    head = DinkClusterHead(3, 4)
    with pytest.raises(ValueError, match="shape"):
        head.reset_cluster_centers(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="z must have shape"):
        head(torch.zeros(2, 3))
