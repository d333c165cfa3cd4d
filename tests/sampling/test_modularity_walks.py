import numpy as np
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from pyagc.sampling import (MAGINeighborLoader, MAGIRandomWalkSampler,
                            modularity_positive_pairs, random_walk, walk_counts,
                            walk_graph, walk_positive_pairs)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def two_triangles():
    """Triangles {0, 1, 2} and {3, 4, 5} joined by the edge 2 - 3."""
    return to_undirected(torch.tensor([[0, 0, 1, 3, 3, 4, 2], [1, 2, 2, 4, 5, 5, 3]]))


def within(hops, edge_index, n):
    """Dense reachability in at most ``hops`` steps (a step may stay put)."""
    a = np.eye(n, dtype=bool)
    a[edge_index[0].numpy(), edge_index[1].numpy()] = True
    reach = np.eye(n, dtype=bool)
    for _ in range(hops):
        reach = (reach.astype(int) @ a.astype(int)) > 0
    return reach


def test_modularity_pairs_by_hand():
    # Path 0 - 1 - 2 - 3 with walk counts S01 = 3, S12 = 1, S23 = 3 (one direction each).
    # W = S + S^T: d = (3, 4, 4, 3), 2m = 14.  B01 = 3 - 3*4/14 > 0,  B12 = 1 - 4*4/14 < 0,
    # B23 = 3 - 4*3/14 > 0: the weak middle link is a negative pair.
    row, col = torch.tensor([0, 1, 2]), torch.tensor([1, 2, 3])
    pairs = modularity_positive_pairs(row, col, torch.tensor([3.0, 1.0, 3.0]), 4)
    assert pairs.tolist() == [[0, 1, 2, 3], [1, 0, 3, 2]]
    # Repeated entries add up; self-loops are ignored.
    rep = modularity_positive_pairs(torch.tensor([0, 0, 0, 1, 2, 3, 2]),
                                    torch.tensor([1, 1, 1, 2, 3, 3, 3]), None, 4)
    assert torch.equal(rep, pairs)


def test_walk_pairs_of_two_communities_match_the_expected_walk_counts():
    # E[S] = num_walks * (P + P^2) for 2-step walks (self-visits dropped). Computed densely
    # here, its modularity pairs are exactly the pairs inside each triangle: the 2-hop
    # proximity makes the bridge 2 - 3 a negative pair although it is an edge.
    ei = two_triangles()
    a = np.zeros((6, 6))
    a[ei[0].numpy(), ei[1].numpy()] = 1
    p = a / a.sum(1, keepdims=True)
    s = p + p @ p
    np.fill_diagonal(s, 0)
    w = s + s.T
    d = w.sum(1)
    b = w - np.outer(d, d) / w.sum()
    expected = {(i, j) for i, j in zip(*np.nonzero((b > 0) & (w > 0))) if i != j}
    assert expected == {(i, j) for c in (0, 3) for i in range(c, c + 3)
                        for j in range(c, c + 3) if i != j}
    got = walk_positive_pairs(ei, 6, num_walks=3000, walk_length=2, generator=gen())
    assert set(map(tuple, got.t().tolist())) == expected


def test_walk_counts_are_the_visits_of_the_walks():
    ei = to_undirected(torch.randint(0, 40, (2, 100), generator=gen(1)), num_nodes=40)
    keep = (ei[0] != 39) & (ei[1] != 39)
    ei = torch.cat([ei[:, keep], torch.tensor([[39], [39]])], dim=1)  # 39: a self-loop only
    graph = walk_graph(ei, 40)
    start = torch.tensor([0, 5, 5, 39])
    a, v, c = walk_counts(graph, start, num_walks=7, walk_length=3, generator=gen(2))
    # The same walks, counted by hand: walk r of start k is row r * 4 + k.
    walks = random_walk(graph, start.repeat(7), 3, generator=gen(2))
    expected = {}
    for row, walk in enumerate(walks.tolist()):
        k = row % 4
        for node in walk[1:]:  # the start position is not a visit; returns are
            expected[(k, node)] = expected.get((k, node), 0) + 1
    assert dict(zip(zip(a.tolist(), v.tolist()), c.tolist())) == expected
    assert expected[(3, 39)] == 21  # node 39 can only stay: 7 walks x 3 steps
    reach = within(3, ei, 40)
    assert all(reach[start[k], node] for k, node in expected)


def test_pairs_only_join_nodes_the_walks_can_reach():
    ei = to_undirected(torch.randint(0, 60, (2, 120), generator=gen(3)), num_nodes=60)
    pairs = walk_positive_pairs(ei, 60, num_walks=20, walk_length=2, generator=gen(4))
    reach = within(2, ei, 60)
    assert pairs.size(1) > 0
    for i, j in pairs.t().tolist():
        assert i != j and (reach[i, j] or reach[j, i])
    assert set(map(tuple, pairs.t().tolist())) == set(map(tuple, pairs.flip(0).t().tolist()))


def test_two_stage_sampler_expands_roots_to_their_communities():
    ei = two_triangles()
    sampler = MAGIRandomWalkSampler(ei, 6, num_walks=500, walk_length=2, seed=0)
    # Walks from node 0 visit 1 and 2 far more often than the other side: the batch is the
    # root's triangle.
    expanded = sampler.stage1_expand_batch(torch.tensor([0]))
    assert expanded.tolist() == [0, 1, 2]
    both, pairs = sampler.sample(torch.tensor([0, 5]))
    assert both.tolist() == [0, 1, 2, 3, 4, 5]
    got = {(int(both[i]), int(both[j])) for i, j in pairs.t().tolist()}
    assert got == {(i, j) for c in (0, 3) for i in range(c, c + 3)
                   for j in range(c, c + 3) if i != j}


def test_sampler_is_seeded_and_checks_its_inputs():
    ei = to_undirected(torch.randint(0, 50, (2, 150), generator=gen(5)), num_nodes=50)
    roots = torch.tensor([1, 7, 30])
    a = MAGIRandomWalkSampler(ei, 50, 5, 3, seed=1).sample(roots)
    b = MAGIRandomWalkSampler(ei, 50, 5, 3, seed=1).sample(roots)
    c = MAGIRandomWalkSampler(ei, 50, 5, 3, seed=2).sample(roots)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not (torch.equal(a[0], c[0]) and torch.equal(a[1], c[1]))
    sampler = MAGIRandomWalkSampler(ei, 50, 5, 3, seed=1)
    with pytest.raises(ValueError, match="lie in"):
        sampler.sample(torch.tensor([50]))
    with pytest.raises(ValueError, match="repeat"):
        sampler.stage2_compute_positive_pairs(torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="num_walks"):
        MAGIRandomWalkSampler(ei, 50, 0, 3)
    with pytest.raises(ValueError, match="lie in"):
        modularity_positive_pairs(torch.tensor([0]), torch.tensor([4]), None, 4)
    with pytest.raises(ValueError, match="non-negative"):
        modularity_positive_pairs(torch.tensor([0]), torch.tensor([1]), torch.tensor([-1.]), 4)


def test_loader_batches_carry_local_pairs_among_the_expanded_seeds():
    ei = to_undirected(torch.randint(0, 80, (2, 240), generator=gen(6)), num_nodes=80)
    data = Data(x=torch.arange(80.0).unsqueeze(1), edge_index=ei, num_nodes=80)
    loader = MAGINeighborLoader(data, [5], num_walks=10, walk_length=2, batch_size=16,
                                shuffle=True, seed=0)
    reach = within(2, ei, 80)
    roots_seen = 0
    for batch in loader:
        size = batch.expanded_batch_size
        assert batch.batch_size == size and size >= 1
        seeds = batch.n_id[:size]
        assert torch.equal(batch.x[:size, 0].long(), seeds)  # features follow the seeds
        assert int(batch.pos_pairs.max()) < size
        for i, j in batch.pos_pairs.t().tolist():
            assert reach[seeds[i], seeds[j]] or reach[seeds[j], seeds[i]]
        roots_seen += batch.num_roots
    assert roots_seen == 80
    again = [b.pos_pairs for b in MAGINeighborLoader(data, [5], num_walks=10, walk_length=2,
                                                     batch_size=16, shuffle=True, seed=0)]
    first = [b.pos_pairs for b in loader]
    assert len(again) == len(first)
    with pytest.raises(ValueError, match="num_workers"):
        MAGINeighborLoader(data, [5], batch_size=16, num_workers=2)
