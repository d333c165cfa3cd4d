import pytest
import torch

from pyagc.clusters import INCClusterHead


def test_centres_live_on_the_unit_sphere():
    head = INCClusterHead(3, 4)
    assert torch.allclose(head.cluster_centers.norm(dim=1), torch.ones(3))
    head.reset_cluster_centers(torch.tensor([[2.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 0.5, 0]]))
    assert torch.allclose(head.cluster_centers.detach(), torch.eye(4)[:3])
    with torch.no_grad():
        head.cluster_centers.mul_(5.0)
    assert torch.allclose(head.compute_cluster_center().norm(dim=1), torch.ones(3))
    head.normalize_cluster_centers()
    assert torch.allclose(head.cluster_centers.norm(dim=1), torch.ones(3))


def test_loss_by_hand_and_zero_compactness_on_the_centres():
    head = INCClusterHead(2, 2, alpha=0.5)
    head.reset_cluster_centers(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    # Nodes on the centres' directions (any length): compactness 0; orthogonal centres:
    # separation 0.
    z = torch.tensor([[3.0, 0.0], [0.0, 0.2], [1.0, 0.0]])
    assert float(head(z)) == pytest.approx(0.0, abs=1e-6)
    diag = torch.tensor([[1.0, 1.0]])                 # cos 45 degrees to both centres
    assert float(head(diag)) == pytest.approx(1 - 2 ** -0.5, rel=1e-5)
    head.reset_cluster_centers(torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
    # separation = cos 45 = 0.7071; the node lies on centre 0.
    assert float(head(torch.tensor([[1.0, 0.0]]))) == pytest.approx(0.5 * 2 ** -0.5, rel=1e-5)
    assert head.cluster(torch.tensor([[1.0, 0.1], [0.1, 1.0]])).tolist() == [0, 1]
    soft = head.cluster(torch.tensor([[1.0, 0.1]]), soft=True)
    assert torch.allclose(soft.sum(1), torch.ones(1))


def test_gradient_normalize_gives_every_centre_a_unit_gradient():
    head = INCClusterHead(2, 3, alpha=0.0)
    head.reset_cluster_centers(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    # 9 nodes near centre 0, 1 near centre 1: centre 0's raw gradient is ~9x larger.
    z = torch.cat([torch.tensor([[1.0, 0.0, 0.3]]).repeat(9, 1), torch.tensor([[0.0, 1.0, 0.3]])])
    head(z).backward()
    raw = head.cluster_centers.grad.norm(dim=1)
    assert float(raw[0]) > 5 * float(raw[1]) > 0
    head.gradient_normalize()
    assert torch.allclose(head.cluster_centers.grad.norm(dim=1), torch.ones(2), atol=1e-6)


def test_training_separates_two_directions():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(50, 2, generator=g) * 0.1 + torch.tensor([1.0, 0.0])
    b = torch.randn(50, 2, generator=g) * 0.1 + torch.tensor([0.0, 1.0])
    z, y = torch.cat([a, b]), torch.tensor([0] * 50 + [1] * 50)
    torch.manual_seed(3)
    head = INCClusterHead(2, 2)
    head.reset_cluster_centers(torch.tensor([[1.0, 0.2], [1.0, -0.2]]))   # both near group a
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        head(z).backward()
        head.gradient_normalize()
        opt.step()
        head.normalize_cluster_centers()
    pred = head.cluster(z)
    assert (pred == y).all() or (pred == 1 - y).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="alpha"):
        INCClusterHead(3, 4, alpha=-1.0)
    with pytest.raises(ValueError, match="n_clusters"):
        INCClusterHead(1, 4)
    with pytest.raises(ValueError, match="z must have shape"):
        INCClusterHead(3, 4)(torch.zeros(2, 3))
