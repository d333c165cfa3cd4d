import math

import pytest
import torch

from pyagc.clusters import NeuromapClusterHead
from pyagc.clusters.neuromap_head import compute_flow, map_equation
from pyagc.clusters.soft_assignment import xlogx
from pyagc.data import make_csbm


def _undirected(pairs):
    e = torch.tensor(pairs).t()
    return torch.cat([e, e.flip(0)], dim=1)


def _head_giving(s):
    k = s.size(1)
    head = NeuromapClusterHead(k, k).double()
    with torch.no_grad():
        head.lin.weight.copy_(torch.eye(k))
    return head, torch.log(s.clamp_min(1e-300))


TWO_TRIANGLES = _undirected([(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)])


def test_xlogx_is_zero_at_zero_with_finite_gradient():
    x = torch.tensor([0.0, 0.5, 1.0], requires_grad=True)
    y = xlogx(x)
    y.sum().backward()
    assert y.tolist() == pytest.approx([0.0, 0.5 * math.log(0.5), 0.0])
    assert torch.isfinite(x.grad).all()


def test_undirected_flow_is_degree_proportional_whatever_alpha():
    for alpha in (0.0, 0.15, 0.9):
        flow = compute_flow(TWO_TRIANGLES, 6, alpha=alpha, n_iters=200, dtype=torch.double)
        deg = torch.tensor([2, 2, 3, 3, 2, 2], dtype=torch.double)
        assert torch.allclose(flow.visit_rate, deg / 14, atol=1e-10)
        dense = flow.flow_t.to_dense().t()
        assert torch.allclose(dense.sum(), torch.tensor(1.0, dtype=torch.double))
        assert torch.allclose(dense[2, 3], torch.tensor(1 / 14, dtype=torch.double))


def test_directed_flow_solves_the_teleporting_walk():
    edge_index = torch.tensor([[0, 1, 2, 2, 3], [1, 2, 0, 3, 0]])
    alpha = 0.15
    flow = compute_flow(edge_index, 4, alpha=alpha, n_iters=500, dtype=torch.double)
    a = torch.zeros(4, 4, dtype=torch.double)
    a[edge_index[0], edge_index[1]] = 1
    t = a / a.sum(1, keepdim=True)
    teleport = a.sum(0) / a.sum()
    p = torch.full((4,), 0.25, dtype=torch.double)
    for _ in range(500):
        p = alpha * teleport + (1 - alpha) * t.t() @ p
    f = alpha * a / a.sum() + (1 - alpha) * p[:, None] * t
    f = f / f.sum()
    assert torch.allclose(flow.flow_t.to_dense().t(), f, atol=1e-10)
    assert torch.allclose(flow.visit_rate, f.sum(0), atol=1e-10)


def test_one_module_codelength_is_the_entropy_of_the_visit_rates():
    flow = compute_flow(TWO_TRIANGLES, 6, dtype=torch.double)
    s = torch.zeros(6, 3, dtype=torch.double)
    s[:, 1] = 1
    head, z = _head_giving(s)
    length, _ = head(z, TWO_TRIANGLES)
    entropy = -sum(p * math.log2(p) for p in flow.visit_rate.tolist())
    assert float(length) == pytest.approx(entropy, abs=1e-9)
    assert flow.node_entropy == pytest.approx(entropy, abs=1e-9)


def test_two_module_codelength_against_a_hand_computation():
    s = torch.zeros(6, 2, dtype=torch.double)
    s[:3, 0] = 1
    s[3:, 1] = 1
    head, z = _head_giving(s)
    length = float(head.forward0(z, TWO_TRIANGLES))
    p = [2 / 14, 2 / 14, 3 / 14, 3 / 14, 2 / 14, 2 / 14]
    exit_, enter, q = 1 / 14, 1 / 14, 2 / 14
    p_module = exit_ + 7 / 14
    expected = (q * math.log2(q) - 2 * enter * math.log2(enter) - 2 * exit_ * math.log2(exit_)
                - sum(x * math.log2(x) for x in p) + 2 * p_module * math.log2(p_module))
    assert length == pytest.approx(expected, abs=1e-9)


def test_true_partition_is_shorter_than_a_random_one():
    g = make_csbm(200, 2, avg_degree=8, homophily=0.9, num_features=2, seed=0)
    gen = torch.Generator().manual_seed(0)
    truth = torch.nn.functional.one_hot(g.y, 2).double()
    rand = torch.nn.functional.one_hot(torch.randint(2, (200,), generator=gen), 2).double()
    lengths = []
    for s in (truth, rand):
        head, z = _head_giving(s)
        lengths.append(float(head(z, g.edge_index)[0]))
    assert lengths[0] < lengths[1] - 0.3


def test_map_equation_is_differentiable_at_empty_modules():
    s = torch.zeros(6, 3, dtype=torch.double)
    s[:3, 0] = 1
    s[3:, 1] = 1
    head, z = _head_giving(s)
    z = z.clamp_min(-50).requires_grad_(True)
    length, _ = head(z, TWO_TRIANGLES)
    length.backward()
    assert torch.isfinite(z.grad).all()


def test_build_flow_is_computed_once_per_graph(monkeypatch):
    head = NeuromapClusterHead(2, 4)
    calls = []
    import pyagc.clusters.neuromap_head as mod
    real = mod.compute_flow
    monkeypatch.setattr(mod, "compute_flow", lambda *a, **k: calls.append(1) or real(*a, **k))
    z = torch.randn(6, 4)
    for _ in range(3):
        head(z, TWO_TRIANGLES)
    assert len(calls) == 1


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="alpha"):
        NeuromapClusterHead(3, 4, alpha=1.5)
    with pytest.raises(ValueError, match="n_iters"):
        NeuromapClusterHead(3, 4, n_iters=0)
    with pytest.raises(ValueError, match="no edges"):
        compute_flow(torch.zeros(2, 0, dtype=torch.long), 3)


def test_weighted_flow_with_repeated_links_and_a_dangling_node():
    # Repeated links count with their summed weight; node 4 has no out-links (it teleports).
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3, 0, 3], [1, 2, 2, 0, 3, 0, 1, 4]])
    weight = torch.tensor([1.0, 0.5, 1.5, 2.0, 1.0, 1.0, 3.0, 0.5], dtype=torch.double)
    alpha = 0.2
    flow = compute_flow(edge_index, 5, weight, alpha=alpha, n_iters=300, dtype=torch.double)
    a = torch.zeros(5, 5, dtype=torch.double).index_put_(tuple(edge_index), weight,
                                                         accumulate=True)
    out = a.sum(1, keepdim=True)
    t = torch.where(out > 0, a / out.clamp_min(1e-300), torch.zeros_like(a))
    teleport = a.sum(0) / a.sum()
    p = torch.full((5,), 0.2, dtype=torch.double)
    for _ in range(300):
        lost = alpha + (1 - alpha) * p[4]
        p = lost * teleport + (1 - alpha) * t.t() @ p
    f = alpha * a / a.sum() + (1 - alpha) * p[:, None] * t
    f = f / f.sum()
    assert torch.allclose(flow.flow_t.to_dense().t(), f, atol=1e-10)
    assert torch.allclose(flow.visit_rate, f.sum(0), atol=1e-10)
