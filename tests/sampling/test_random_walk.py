import pytest
import torch
from torch_geometric.utils import to_undirected

from pyagc.sampling import CompressedGraph, random_walk, walk_graph, walk_windows


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def edge_set(edge_index):
    return set(map(tuple, edge_index.t().tolist()))


@pytest.mark.parametrize("p,q", [(1.0, 1.0), (0.25, 4.0), (4.0, 0.25)])
def test_steps_follow_edges(p, q):
    edge_index = torch.randint(0, 30, (2, 90), generator=gen(1))
    edges = edge_set(edge_index)
    out_deg = torch.bincount(edge_index[0], minlength=30)
    start = torch.arange(30).repeat(4)
    walks = random_walk(edge_index, start, 6, p=p, q=q, num_nodes=30, generator=gen(2))
    assert walks.shape == (120, 7) and walks.dtype == torch.long
    assert torch.equal(walks[:, 0], start)
    for a, b in zip(walks[:, :-1].reshape(-1).tolist(), walks[:, 1:].reshape(-1).tolist()):
        assert (a, b) in edges or (out_deg[a] == 0 and a == b)


def test_dead_end_stays_and_seeding():
    edge_index = torch.tensor([[0, 1], [1, 2]])  # 0 -> 1 -> 2, node 2 has no out-edges
    walks = random_walk(edge_index, torch.tensor([0, 2]), 4, generator=gen())
    assert walks.tolist() == [[0, 1, 2, 2, 2], [2, 2, 2, 2, 2]]
    ei = torch.randint(0, 50, (2, 300), generator=gen(3))
    start = torch.arange(50)
    for p, q in [(1.0, 1.0), (0.5, 2.0)]:
        a = random_walk(ei, start, 5, p, q, num_nodes=50, generator=gen(7))
        b = random_walk(walk_graph(ei, 50), start, 5, p, q, generator=gen(7))
        c = random_walk(ei, start, 5, p, q, num_nodes=50, generator=gen(8))
        assert torch.equal(a, b) and not torch.equal(a, c)
        # Same edge set in another order: same walks.
        perm = torch.randperm(ei.size(1), generator=gen(9))
        assert torch.equal(a, random_walk(ei[:, perm], start, 5, p, q, 50, generator=gen(7)))


def test_uniform_transition_frequencies():
    # Star centre 0 with out-neighbours 1..4 and 3 duplicate-free extra edges elsewhere.
    edge_index = torch.tensor([[0, 0, 0, 0, 1, 2], [1, 2, 3, 4, 0, 0]])
    walks = random_walk(edge_index, torch.zeros(8000, dtype=torch.long), 1, generator=gen(4))
    freq = torch.bincount(walks[:, 1], minlength=5)[1:].float() / 8000
    assert torch.allclose(freq, torch.full((4,), 0.25), atol=0.025)


@pytest.mark.parametrize("extra_1_to_3, seed", [(False, 5), (True, 15)])
def test_node2vec_second_order_probabilities(extra_1_to_3, seed):
    # Undirected edges 0-1, 1-2, 1-3, 0-2. Walks 0 -> 1 -> x: x = 0 returns (1/p),
    # x = 2 stays at distance 1 from 0 (weight 1), x = 3 moves away (1/q). With a second
    # copy of 1 -> 3 that move counts twice (the flat-envelope path of the sampler).
    edge_index = to_undirected(torch.tensor([[0, 1, 1, 0], [1, 2, 3, 2]]))
    if extra_1_to_3:
        edge_index = torch.cat([edge_index, torch.tensor([[1], [3]])], dim=1)
    p, q = 0.5, 2.0
    walks = random_walk(edge_index, torch.zeros(30000, dtype=torch.long), 2, p=p, q=q,
                        generator=gen(seed))
    second = walks[walks[:, 1] == 1, 2]
    freq = torch.bincount(second, minlength=4).float() / second.numel()
    weights = torch.tensor([1 / p, 0.0, 1.0, (2 if extra_1_to_3 else 1) / q])
    assert torch.allclose(freq, weights / weights.sum(), atol=0.02), freq


def test_return_frequency_rises_as_p_falls():
    ring = torch.arange(40)
    edge_index = to_undirected(torch.stack([
        torch.cat([ring, ring]), torch.cat([(ring + 1) % 40, (ring + 2) % 40])]))
    start = torch.arange(40).repeat(50)
    rates = []
    for p in (4.0, 1.0, 0.25):
        w = random_walk(edge_index, start, 10, p=p, q=1.0, generator=gen(6))
        rates.append((w[:, 2:] == w[:, :-2]).float().mean().item())
    # Degree 4 everywhere: return weights 1/p against 3 others give 1/13, 1/4, 4/7.
    expected = [1 / 13, 1 / 4, 4 / 7]
    assert rates[0] < rates[1] < rates[2]
    for r, e in zip(rates, expected):
        assert abs(r - e) < 0.03, (rates, expected)
    # Small q pushes outward: fewer returns and fewer triangle-closing steps than large q.
    w_out = random_walk(edge_index, start, 10, p=1.0, q=0.25, generator=gen(6))
    w_in = random_walk(edge_index, start, 10, p=1.0, q=4.0, generator=gen(6))
    g = walk_graph(edge_index)
    near = lambda w: g.has_edge(w[:, :-2].reshape(-1), w[:, 2:].reshape(-1)).float().mean()
    assert near(w_out) < near(w_in)


def test_structure_reused_only_for_the_same_unmodified_tensor():
    import gc

    from pyagc.sampling.random_walk import _LAST_GRAPH
    ei = torch.tensor([[0, 1, 2], [1, 2, 0]])
    a = random_walk(ei, torch.tensor([0]), 3, generator=gen())
    built = _LAST_GRAPH._graph
    random_walk(ei, torch.tensor([0]), 3, generator=gen())
    assert _LAST_GRAPH._graph is built and a.tolist() == [[0, 1, 2, 0]]
    ei[1] = torch.tensor([2, 0, 1])  # in-place edit: 0 -> 2 -> 1 -> 0
    assert random_walk(ei, torch.tensor([0]), 3, generator=gen()).tolist() == [[0, 2, 1, 0]]
    del ei
    gc.collect()
    assert _LAST_GRAPH._graph is None


def test_walk_windows():
    walks = torch.arange(12).view(2, 6)
    win = walk_windows(walks, 3)
    expected = torch.stack([walks[w, j:j + 3] for w in range(2) for j in range(4)])
    assert torch.equal(win, expected)
    assert walk_windows(walks, 6).shape == (2, 6)
    with pytest.raises(ValueError, match="context_size"):
        walk_windows(walks, 7)
    with pytest.raises(ValueError, match="context_size"):
        walk_windows(walks, 1)


def test_errors():
    ei = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="p must"):
        random_walk(ei, torch.tensor([0]), 3, p=0.0)
    with pytest.raises(ValueError, match="walk_length"):
        random_walk(ei, torch.tensor([0]), -1)
    with pytest.raises(ValueError, match="start node ids"):
        random_walk(ei, torch.tensor([5]), 3)
    with pytest.raises(TypeError, match="integer"):
        random_walk(ei, torch.tensor([0.0]), 3)
    with pytest.raises(ValueError, match="num_nodes"):
        random_walk(ei, torch.tensor([0]), 3, num_nodes=1)
    with pytest.raises(ValueError, match="sorted"):
        random_walk(CompressedGraph(ei), torch.tensor([0]), 3, q=2.0)
    assert random_walk(ei, torch.tensor([0, 1]), 0).tolist() == [[0], [1]]


def test_walk_graph_drops_the_edge_permutation_and_walks_the_same():
    # Walks never map back to edge ids: the walk structure keeps no perm (8 B per edge),
    # walks on it equal those on the full CSR, and it still moves between devices.
    ei = to_undirected(torch.randint(30, (2, 120), generator=gen(4)), num_nodes=30)
    light = walk_graph(ei, 30)
    full = CompressedGraph(ei, 30, group_by="source", sort_neighbors=True)
    assert light.perm is None and full.perm is not None and light.to("cpu").perm is None
    assert torch.equal(light.index, full.index) and torch.equal(light.ptr, full.ptr)
    start = torch.arange(30)
    for p, q in [(1.0, 1.0), (0.5, 2.0)]:
        assert torch.equal(random_walk(light, start, 5, p, q, generator=gen(1)),
                           random_walk(full, start, 5, p, q, generator=gen(1)))
