import pytest
import torch

from pyagc.clusters import DECClusterHead
from pyagc.clusters.dec_head import (kl_divergence, squared_distances, student_t_assignment,
                                     target_distribution)


def test_student_t_assignment_matches_a_hand_computation():
    z = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    centers = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    # alpha = 1: kernel (1 + d^2)^-1. Node 0: d^2 = 0, 4 -> 1, 1/5. Node 1: d^2 = 2, 2 -> equal.
    q = student_t_assignment(z, centers, alpha=1.0)
    assert torch.allclose(q[0], torch.tensor([5 / 6, 1 / 6]))
    assert torch.allclose(q[1], torch.tensor([0.5, 0.5]))
    # alpha = 2: kernel (1 + d^2/2)^-1.5.
    q2 = student_t_assignment(z[:1], centers, alpha=2.0)
    k = torch.tensor([1.0, 3.0 ** -1.5])
    assert torch.allclose(q2[0], k / k.sum())


def test_target_distribution_sharpens_q_against_a_hand_computation():
    q = torch.tensor([[0.6, 0.4], [0.3, 0.7], [0.5, 0.5]])
    f = q.sum(dim=0)                                   # cluster frequencies 1.4, 1.6
    w = q ** 2 / f
    expected = w / w.sum(dim=1, keepdim=True)
    p = target_distribution(q)
    assert torch.allclose(p, expected)
    assert torch.allclose(p.sum(dim=1), torch.ones(3))
    # Confident rows become more confident.
    assert bool((p.max(dim=1).values[:2] > q.max(dim=1).values[:2]).all())


def test_kl_of_a_distribution_with_itself_is_zero_and_positive_otherwise():
    p = torch.softmax(torch.randn(20, 4, generator=torch.Generator().manual_seed(0)), dim=1)
    assert float(kl_divergence(p, p)) == pytest.approx(0.0, abs=1e-7)
    q = torch.full_like(p, 0.25)
    expected = (p * (p / q).log()).sum() / 20
    assert float(kl_divergence(p, q)) == pytest.approx(float(expected), rel=1e-5)
    zeros = torch.tensor([[1.0, 0.0]])               # 0 log 0 counts 0
    assert float(kl_divergence(zeros, torch.tensor([[0.5, 0.5]]))) == pytest.approx(
        float(torch.log(torch.tensor(2.0))))


def test_squared_distances_match_cdist():
    g = torch.Generator().manual_seed(1)
    z, c = torch.randn(30, 5, generator=g), torch.randn(4, 5, generator=g)
    assert torch.allclose(squared_distances(z, c), torch.cdist(z, c) ** 2, atol=1e-5)


def test_head_forward_target_kl_cluster_and_centres():
    head = DECClusterHead(3, 2)
    centers = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    head.reset_cluster_centers(centers)
    assert torch.equal(head.cluster_centers.detach(), centers)
    z = torch.tensor([[0.1, 0.0], [4.9, 0.2], [0.0, 5.2], [5.1, -0.1]])
    assert head.target is None
    q = head(z, update_target=False)
    assert head.target is None and torch.allclose(q.sum(1), torch.ones(4))
    with pytest.raises(ValueError, match="no target"):
        head.kl_loss(q)
    head(z)                                            # update_target=True
    assert torch.allclose(head.target, target_distribution(q))
    assert float(head.kl_loss(q)) > 0
    assert float(head.kl_loss(q[[1, 3]], torch.tensor([1, 3]))) == pytest.approx(
        float(kl_divergence(head.target[[1, 3]], q[[1, 3]])))
    assert head.cluster(z).tolist() == [0, 1, 2, 1]
    assert torch.allclose(head.cluster(z, soft=True), q)
    head.reset_cluster_centers(centers)                # new centres: the old target is stale
    assert head.target is None


def test_target_survives_a_state_dict_round_trip():
    head = DECClusterHead(2, 3)
    head(torch.randn(5, 3))
    state = head.state_dict()
    fresh = DECClusterHead(2, 3)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.target, head.target)
    empty = DECClusterHead(2, 3).state_dict()         # saved before any target
    fresh.load_state_dict(empty)
    assert fresh.target is None


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_clusters"):
        DECClusterHead(1, 4)
    with pytest.raises(ValueError, match="alpha"):
        DECClusterHead(3, 4, alpha=0.0)
    head = DECClusterHead(3, 4)
    with pytest.raises(ValueError, match="shape"):
        head.reset_cluster_centers(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="z must have shape"):
        head(torch.zeros(5, 3))
