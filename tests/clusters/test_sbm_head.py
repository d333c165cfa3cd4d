import math

import pytest
import torch

from pyagc.clusters import SBMClusterHead, SBMMatchClusterHead
from pyagc.clusters.sbm_head import block_matrix, draw_non_edges

# 5-node graph: a triangle 0-1-2 with a tail 2-3-4 (both directions: 10 entries).
PAIRS = [(0, 1), (1, 2), (0, 2), (2, 3), (3, 4)]
EDGES = torch.tensor(PAIRS + [(b, a) for a, b in PAIRS]).t()
NEG = torch.tensor([[0, 1, 4, 3], [3, 4, 0, 1]])
S = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.1, 0.9]],
                 dtype=torch.double)


def _set_head(head):
    head = head.double()
    with torch.no_grad():
        head.lin.weight.copy_(torch.eye(2))
    return head, torch.log(S)


def _hand(variant):
    """The documented loss by explicit loops over nodes, blocks and pairs."""
    s = S.tolist()
    n_nodes, k = 5, 2
    edges = EDGES.t().tolist()
    n = [sum(s[u][r] for u in range(n_nodes)) for r in range(k)]
    m = [[sum(s[u][r] * s[v][q] for u, v in edges) for q in range(k)] for r in range(k)]
    theta = [[m[r][q] / (n[r] * n[q]) for q in range(k)] for r in range(k)]
    deg = [sum(1 for _, v in edges if v == u) for u in range(n_nodes)]
    delta = [sum(s[u][r] * deg[u] for u in range(n_nodes)) for r in range(k)]
    phi = [sum(s[u][r] * n[r] for r in range(k)) * deg[u] /
           sum(s[u][r] * delta[r] for r in range(k)) for u in range(n_nodes)]

    def rate(u, v):
        if variant == "match":
            return sum(s[u][r] * s[v][r] for r in range(k))
        pi = sum(s[u][r] * theta[r][q] * s[v][q] for r in range(k) for q in range(k))
        if variant.endswith("-dc"):
            pi = phi[u] * phi[v] * pi
            if variant.startswith("bernoulli"):
                pi = min(pi, 1 - 1e-6)
        return pi

    bern = variant.startswith("bernoulli") or variant == "match"
    pos = sum((-math.log(rate(u, v)) if bern else rate(u, v) - math.log(rate(u, v)))
              for u, v in edges) / len(edges)
    neg_pairs = NEG.t().tolist()
    neg = sum((-math.log(1 - rate(u, v)) if bern else rate(u, v))
              for u, v in neg_pairs) / len(neg_pairs)
    reg = math.sqrt(sum((1 - theta[r][r]) ** 2 for r in range(k)))
    return pos + neg, reg


@pytest.mark.parametrize("variant", ["bernoulli", "poisson", "bernoulli-dc", "poisson-dc",
                                     "match"])
def test_likelihood_matches_a_hand_computation_on_five_nodes(variant):
    head = SBMMatchClusterHead(2, 2) if variant == "match" else SBMClusterHead(2, 2, variant)
    head, z = _set_head(head)
    nll, reg = head(z, EDGES, num_neg_samples=NEG.size(1), neg_edge_index=NEG)
    expected_nll, expected_reg = _hand(variant)
    assert float(nll.detach()) == pytest.approx(expected_nll, rel=1e-9)
    assert float(reg.detach()) == pytest.approx(expected_reg, rel=1e-9)


@pytest.mark.parametrize("variant", ["bernoulli", "poisson-dc"])
def test_as_match_scores_any_variant_by_the_match_likelihood(variant):
    head, _ = _set_head(SBMClusterHead(2, 2, variant))
    pos, neg, reg = head.assignment_terms(S, EDGES, num_neg_samples=NEG.size(1),
                                          neg_edge_index=NEG, as_match=True)
    expected_nll, expected_reg = _hand("match")
    assert float(pos + neg) == pytest.approx(expected_nll, rel=1e-9)
    assert float(reg) == pytest.approx(expected_reg, rel=1e-9)
    own = sum(head.assignment_terms(S, EDGES, num_neg_samples=NEG.size(1),
                                    neg_edge_index=NEG)[:2])
    assert float(own) == pytest.approx(_hand(variant)[0], rel=1e-9)


def test_block_matrix_of_one_hot_assignments_is_the_block_density():
    s = torch.tensor([[1.0, 0], [1, 0], [1, 0], [0, 1], [0, 1]], dtype=torch.double)
    theta, n = block_matrix(s, EDGES)
    assert n.tolist() == [3.0, 2.0]
    # 6 ordered pairs inside the triangle, 1 each way between the blocks, 2 in the tail.
    assert torch.allclose(theta, torch.tensor([[6 / 9, 1 / 6], [1 / 6, 2 / 4]], dtype=torch.double))


def test_negative_draws_are_seeded_and_exclude_edges():
    head, z = _set_head(SBMClusterHead(2, 2, eta=2.0))
    a = head(z, EDGES, generator=torch.Generator().manual_seed(1))
    b = head(z, EDGES, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0])
    neg = draw_non_edges(torch.sort(EDGES[0] * 5 + EDGES[1]).values, 5, 500,
                         generator=torch.Generator().manual_seed(0))
    assert 0 < neg.size(1) < 500
    keys = set((EDGES[0] * 5 + EDGES[1]).tolist())
    assert not keys & set((neg[0] * 5 + neg[1]).tolist())
    assert bool((neg[0] != neg[1]).all())


def test_gradients_are_finite_for_every_variant():
    for head in (SBMClusterHead(2, 2, v) for v in ("bernoulli", "poisson", "bernoulli-dc",
                                                     "poisson-dc")):
        head, z = _set_head(head)
        z = z.clone().requires_grad_(True)
        nll, reg = head(z, EDGES, generator=torch.Generator().manual_seed(0))
        (nll + reg).backward()
        assert torch.isfinite(z.grad).all()


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="variant"):
        SBMClusterHead(3, 4, variant="gaussian")
    with pytest.raises(ValueError, match="eta"):
        SBMClusterHead(3, 4, eta=0.0)
    with pytest.raises(ValueError, match="no edges"):
        SBMClusterHead(2, 2)(torch.randn(4, 2), torch.zeros(2, 0, dtype=torch.long))
