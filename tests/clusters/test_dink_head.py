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
    # 0.25 in each of the three clusters, summed over them.
    assert float(shrink_loss(moved, centers)) == pytest.approx(0.75, rel=1e-5)


def test_head_losses_gradients_and_clustering():
    head = DinkClusterHead(3, 2, max_norm=None)
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


def _unequal_clusters(d=16):
    # Three clusters of 120, 20 and 10 unit vectors sharing a common direction (as a
    # non-negative encoder's normalised outputs do), centres at the cluster means.
    g = torch.Generator().manual_seed(0)
    means = torch.eye(3, d) + torch.ones(3, d) / d ** 0.5
    y = torch.arange(3).repeat_interleave(torch.tensor([120, 20, 10]))
    z = torch.nn.functional.normalize(means[y] + 0.3 * torch.randn(150, d, generator=g)
                                      / d ** 0.5, dim=1)
    return z, y, torch.stack([z[y == k].mean(0) for k in range(3)])


def _train_centres(head, z, steps=300):
    opt = torch.optim.Adam(head.parameters(), lr=0.01)
    for _ in range(steps):
        dilation, shrink = head(z)
        opt.zero_grad()
        (dilation + shrink).backward()
        opt.step()
    return head


def test_small_clusters_keep_their_nodes_over_many_steps():
    # Regression: with the plain mean over nodes the two small clusters' centres were pushed
    # off their nodes by the dilation term (sizes [150, 0, 0] after 300 steps), as happened
    # to mini-batch Dink-Net on Cora (6x more steps per epoch than full-batch).
    z, y, centers = _unequal_clusters()
    head = DinkClusterHead(3, 16)
    head.reset_cluster_centers(centers)
    _train_centres(head, z)
    assert torch.equal(head.cluster(z), y)


def test_shrink_loss_weights_every_cluster_alike():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    # 9 nodes at distance 1 from centre 0, one node at distance 2 from centre 1.
    z = torch.cat([torch.tensor([[1.0, 0.0]]).repeat(9, 1), torch.tensor([[10.0, 2.0]])])
    assert float(shrink_loss(z, centers)) == pytest.approx(1.0 + 4.0)
    # A batch that misses a cluster keeps the scale: K times the mean of the clusters seen.
    assert float(shrink_loss(z[:9], centers)) == pytest.approx(2 * 1.0)


def test_free_centres_settle_between_their_nodes_and_the_wall():
    # Five clusters of unit vectors; free centres (no max_norm) under dilation + shrink. The
    # summed shrink pulls each centre by 2 (c - m) against the push 4 / (K - 1) (c - c_mean):
    # they settle and keep their nodes. Averaged over the clusters (the pull / K) they fly off.
    g = torch.Generator().manual_seed(1)
    d, sizes = 8, torch.tensor([40, 30, 30, 20, 20])
    y = torch.arange(5).repeat_interleave(sizes)
    z = torch.nn.functional.normalize(torch.eye(5, d)[y] + 0.2 * torch.randn(140, d, generator=g),
                                      dim=1)
    means = torch.stack([z[y == k].mean(0) for k in range(5)])
    norms = []
    for scale in (1.0, 1.0 / 5):
        head = DinkClusterHead(5, d, max_norm=None)
        head.reset_cluster_centers(means)
        opt = torch.optim.Adam(head.parameters(), lr=0.01)
        for _ in range(1000):
            dilation, shrink = head(z)
            opt.zero_grad()
            (dilation + scale * shrink).backward()
            opt.step()
        norms.append(float(head.cluster_centers.norm(dim=1).max()))
        if scale == 1.0:
            assert torch.equal(head.cluster(z), y)
    assert norms[0] < 2.0 < 10.0 < norms[1]


def test_centres_stay_in_the_unit_ball_and_the_losses_stay_bounded():
    z, _, centers = _unequal_clusters()
    bounded, free = DinkClusterHead(3, 16), DinkClusterHead(3, 16, max_norm=None)
    for head in (bounded, free):
        head.reset_cluster_centers(centers)
        _train_centres(head, z)
    assert float(bounded.centers().norm(dim=1).max()) <= 1.0 + 1e-6
    assert float(bounded(z)[0]) >= -3.0 - 1e-5          # -2K/(K-1) for K = 3
    assert float(free(z)[0]) < -100.0                    # free centres fly apart
    head = DinkClusterHead(2, 2)
    head.reset_cluster_centers(torch.tensor([[3.0, 4.0], [0.1, 0.0]]))
    assert torch.allclose(head.centers(), torch.tensor([[0.6, 0.8], [0.1, 0.0]]))
    with pytest.raises(ValueError, match="max_norm"):
        DinkClusterHead(3, 4, max_norm=0.0)
