import itertools

import pytest
import torch
from torch_geometric.data import Data, HeteroData
from torch_geometric.nn import GCN, GraphSAGE
from torch_geometric.utils import k_hop_subgraph

from pyagc.sampling import NeighborLoader, VectorizedNeighborSampler, pyg_sampler_available


def random_graph(num_nodes=60, num_edges=400, seed=0, num_features=8):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=gen)
    x = torch.randn(num_nodes, num_features, generator=gen)
    edge_attr = torch.arange(num_edges, dtype=torch.float).view(-1, 1)
    return Data(x=x, edge_index=edge_index, edge_attr=edge_attr, num_nodes=num_nodes)


def loader(data, num_neighbors, **kwargs):
    return NeighborLoader(data, num_neighbors, backend="pyagc", **kwargs)


def test_batch_layout_and_edges_exist():
    data = random_graph()
    fan_out = [4, 3]
    batches = list(loader(data, fan_out, batch_size=8, shuffle=True, seed=1))
    seen = []
    in_deg = torch.bincount(data.edge_index[1], minlength=data.num_nodes)
    for b in batches:
        n = b.num_nodes
        assert b.n_id.numel() == n == sum(b.num_sampled_nodes)
        assert b.edge_index.size(1) == sum(b.num_sampled_edges)
        assert len(b.num_sampled_nodes) == 3 and len(b.num_sampled_edges) == 2
        assert b.num_sampled_nodes[0] == b.batch_size == b.input_id.numel()
        # Seeds first, in the order of the input ids.
        assert torch.equal(b.n_id[:b.batch_size], b.input_id)
        assert b.n_id.unique().numel() == n
        # Every edge is a real edge, and e_id points at it (edge attributes follow).
        glob = b.n_id[b.edge_index]
        assert torch.equal(glob, data.edge_index[:, b.e_id])
        assert torch.equal(b.edge_attr, data.edge_attr[b.e_id])
        assert torch.equal(b.x, data.x[b.n_id])
        assert b.e_id.unique().numel() == b.e_id.numel()  # without replacement
        # Hop structure: edges of hop l point into nodes first reached at hop l-1, and the
        # fan-out bound min(deg, k) holds exactly for every expanded node.
        node_off = torch.tensor([0] + b.num_sampled_nodes).cumsum(0)
        edge_off = torch.tensor([0] + b.num_sampled_edges).cumsum(0)
        for hop, k in enumerate(fan_out):
            col = b.edge_index[1, edge_off[hop]:edge_off[hop + 1]]
            lo, hi = int(node_off[hop]), int(node_off[hop + 1])
            assert bool(((col >= lo) & (col < hi)).all())
            counts = torch.bincount(col - lo, minlength=hi - lo)
            expected = in_deg[b.n_id[lo:hi]].clamp(max=k)
            assert torch.equal(counts, expected)
            # New nodes of the next hop are sources of this hop's edges.
            row = b.edge_index[0, edge_off[hop]:edge_off[hop + 1]]
            new = torch.arange(int(node_off[hop + 1]), int(node_off[hop + 2]))
            assert bool(torch.isin(new, row).all())
        seen.append(b.input_id)
    # shuffle covers every node exactly once per epoch
    assert torch.equal(torch.cat(seen).sort().values, torch.arange(data.num_nodes))


@pytest.mark.parametrize("num_hops", [1, 2, 3])
def test_full_fanout_equals_k_hop_subgraph(num_hops):
    data = random_graph(num_nodes=80, num_edges=160, seed=3)
    seeds = torch.tensor([0, 5, 17, 42])
    b = next(iter(loader(data, [-1] * num_hops, input_nodes=seeds, batch_size=4)))
    subset, _, _, _ = k_hop_subgraph(seeds, num_hops, data.edge_index,
                                     num_nodes=data.num_nodes, flow="source_to_target")
    assert torch.equal(b.n_id.sort().values, subset.sort().values)
    # Edges: exactly the in-edges of all nodes within distance num_hops - 1.
    inner, _, _, _ = k_hop_subgraph(seeds, num_hops - 1, data.edge_index,
                                    num_nodes=data.num_nodes) if num_hops > 1 else (seeds,) * 4
    expected = torch.isin(data.edge_index[1], inner).nonzero().view(-1)
    assert torch.equal(b.e_id.sort().values, expected)


def test_gnn_on_full_fanout_batch_matches_full_graph():
    torch.manual_seed(0)
    data = random_graph(num_nodes=70, num_edges=300, seed=4)
    seeds = torch.arange(0, 70, 7)
    gcn = GCN(8, 16, num_layers=2, out_channels=5).eval()
    sage = GraphSAGE(8, 16, num_layers=2, out_channels=5).eval()
    full_gcn = gcn(data.x, data.edge_index)[seeds]
    full_sage = sage(data.x, data.edge_index)[seeds]
    # GCN normalisation needs the degrees of the outermost nodes too: one extra hop.
    b = next(iter(loader(data, [-1, -1, -1], input_nodes=seeds, batch_size=len(seeds))))
    assert torch.allclose(gcn(b.x, b.edge_index)[:b.batch_size], full_gcn, atol=1e-5)
    # Mean aggregation only needs the in-edges: as many hops as layers.
    b = next(iter(loader(data, [-1, -1], input_nodes=seeds, batch_size=len(seeds))))
    assert torch.allclose(sage(b.x, b.edge_index)[:b.batch_size], full_sage, atol=1e-5)
    # A truncated fan-out changes the result (the test can fail).
    b = next(iter(loader(data, [1, 1], input_nodes=seeds, batch_size=len(seeds), seed=0)))
    assert not torch.allclose(sage(b.x, b.edge_index)[:b.batch_size], full_sage, atol=1e-3)


def test_uniform_subsets_without_replacement():
    # 600 disjoint stars: centre i has 5 in-neighbours; k=2 draws one of the 10 subsets.
    num_centres, leaves = 600, 5
    centres = torch.arange(num_centres)
    src = num_centres + torch.arange(num_centres * leaves)
    dst = centres.repeat_interleave(leaves)
    data = Data(edge_index=torch.stack([src, dst]), num_nodes=num_centres * (leaves + 1))
    sampler = VectorizedNeighborSampler(data, [2], seed=0)
    counts = torch.zeros(leaves, leaves)
    for _ in range(10):
        out = sampler.sample(centres)
        picked = (out.node[out.row] - num_centres) % leaves
        picked = picked.view(num_centres, 2).sort(dim=1).values
        assert bool((picked[:, 0] != picked[:, 1]).all())
        counts.index_put_((picked[:, 0], picked[:, 1]), torch.ones(num_centres), accumulate=True)
    pairs = torch.tensor(list(itertools.combinations(range(leaves), 2)))
    freq = counts[pairs[:, 0], pairs[:, 1]]
    assert freq.sum() == 6000
    assert bool(((freq - 600).abs() < 90).all()), freq  # ~4.6 sigma


def test_replace_draws_exactly_k():
    data = random_graph(seed=5)
    in_deg = torch.bincount(data.edge_index[1], minlength=data.num_nodes)
    b = next(iter(loader(data, [12], batch_size=60, replace=True, seed=0)))
    counts = torch.bincount(b.edge_index[1], minlength=b.batch_size)
    assert torch.equal(counts, torch.where(in_deg[b.n_id[:60]] > 0, 12, 0))
    assert torch.equal(b.n_id[b.edge_index], data.edge_index[:, b.e_id])


def test_seeded_loaders_reproduce_and_differ():
    data = random_graph(seed=6)

    def run(**kw):
        return [(b.n_id, b.edge_index) for b in loader(data, [3, 2], batch_size=16,
                                                       shuffle=True, **kw)]
    a, b, c = run(seed=11), run(seed=11), run(seed=12)
    assert all(torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) for x, y in zip(a, b))
    assert any(not torch.equal(x[0], y[0]) for x, y in zip(a, c))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    d, e = run(generator=g1), run(generator=g2)
    assert all(torch.equal(x[1], y[1]) for x, y in zip(d, e))
    # Two epochs of one loader draw different neighbourhoods (no frozen stream).
    ld = loader(data, [3, 2], batch_size=60, seed=0)
    assert not torch.equal(next(iter(ld)).e_id, next(iter(ld)).e_id)


def test_workers_reproducible():
    data = random_graph(seed=7)

    def run():
        ld = loader(data, [3], batch_size=10, seed=5, num_workers=2)
        return [b.e_id for b in ld]
    a, b = run(), run()
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_input_nodes_mask_and_edge_cases():
    data = random_graph(seed=8)
    mask = torch.zeros(data.num_nodes, dtype=torch.bool)
    mask[::3] = True
    ids = torch.cat([b.n_id[:b.batch_size] for b in loader(data, [2], input_nodes=mask,
                                                           batch_size=7)])
    assert torch.equal(ids, mask.nonzero().view(-1))
    # An isolated seed and a zero fan-out.
    iso = Data(x=torch.randn(3, 2), edge_index=torch.tensor([[0], [1]]), num_nodes=3)
    b = next(iter(loader(iso, [5, 5], input_nodes=torch.tensor([2]), batch_size=1)))
    assert b.n_id.tolist() == [2] and b.edge_index.size(1) == 0
    assert b.num_sampled_nodes == [1, 0, 0] and b.num_sampled_edges == [0, 0]
    b = next(iter(loader(data, [0], batch_size=4)))
    assert b.edge_index.size(1) == 0


def test_errors():
    data = random_graph()
    with pytest.raises(ValueError, match="num_neighbors"):
        loader(data, [2, -3])
    with pytest.raises(TypeError, match="num_neighbors"):
        loader(data, 5)
    with pytest.raises(ValueError, match="duplicates"):
        next(iter(loader(data, [2], input_nodes=torch.tensor([1, 1]), batch_size=2)))
    with pytest.raises(ValueError, match="subgraph_type"):
        loader(data, [2], subgraph_type="induced")
    with pytest.raises(TypeError, match="Data"):
        NeighborLoader(HeteroData(), [2])
    with pytest.raises(ValueError, match="batch_size"):
        loader(data, [2], batch_size=0)
    with pytest.raises(ValueError, match="backend"):
        NeighborLoader(data, [2], backend="fast")
    if not pyg_sampler_available():
        with pytest.raises(ImportError, match="pyg-lib"):
            NeighborLoader(data, [2], backend="pyg")
        assert isinstance(NeighborLoader(data, [2]).node_sampler, VectorizedNeighborSampler)


def test_is_sorted_matches_unsorted_path():
    data = random_graph(seed=9)
    order = torch.argsort(data.edge_index[1], stable=True)
    sorted_data = Data(x=data.x, edge_index=data.edge_index[:, order], num_nodes=data.num_nodes)
    a = next(iter(loader(sorted_data, [3, 2], batch_size=20, seed=4, is_sorted=True)))
    b = next(iter(loader(sorted_data, [3, 2], batch_size=20, seed=4)))
    assert torch.equal(a.n_id, b.n_id) and torch.equal(a.e_id, b.e_id)
    with pytest.raises(ValueError, match="not sorted"):
        loader(data, [2], is_sorted=True)


@pytest.mark.skipif(not pyg_sampler_available(), reason="needs pyg-lib or torch-sparse")
def test_same_closure_as_pyg_sampler():
    data = random_graph(num_nodes=80, num_edges=200, seed=10)
    seeds = torch.tensor([1, 2, 3, 50])
    ours = next(iter(loader(data, [-1, -1], input_nodes=seeds, batch_size=4)))
    ref = next(iter(NeighborLoader(data, [-1, -1], input_nodes=seeds, batch_size=4,
                                   backend="pyg")))
    assert torch.equal(ours.n_id[:4], ref.n_id[:4])
    assert torch.equal(ours.n_id.sort().values, ref.n_id.sort().values)
    assert torch.equal(ours.e_id.sort().values, ref.e_id.sort().values)
    assert ours.num_sampled_nodes == list(ref.num_sampled_nodes)


def _star(leaves=20):
    # Every leaf points at the hub 0 and back.
    src = torch.arange(1, leaves + 1)
    edge_index = torch.cat([torch.stack([src, torch.zeros_like(src)]),
                            torch.stack([torch.zeros_like(src), src])], dim=1)
    return Data(x=torch.randn(leaves + 1, 3), edge_index=edge_index, num_nodes=leaves + 1)


def test_inverse_sampling_weights_scale_by_degree_over_sampled_count():
    from pyagc.sampling import neighbor_loader
    data = _star(20)
    batch = next(iter(neighbor_loader(data, 1, 5, 64, shuffle=False, seed=0,
                                      inverse_sampling_weights=True)))
    glob_dst = batch.n_id[batch.edge_index[1]]
    into_hub = glob_dst == 0
    assert int(into_hub.sum()) == 5  # 5 of the hub's 20 in-edges sampled
    assert torch.allclose(batch.edge_weight[into_hub], torch.full((5,), 4.0))
    assert torch.equal(batch.edge_weight[~into_hub], torch.ones(20))  # leaves: degree 1
    # The hub's weighted in-degree is its whole-graph degree, so GCN normalises it right.
    assert float(batch.edge_weight[into_hub].sum()) == 20.0


def test_inverse_sampling_weights_give_the_full_graph_gcn_output_on_the_seeds():
    from pyagc.encoders import create_tuned_gnn
    from torch_geometric.utils import coalesce, remove_self_loops
    from pyagc.sampling import neighbor_loader
    data = random_graph()
    # A simple graph: GCN treats a graph's own self-loops and repeated edges apart.
    data.edge_index = remove_self_loops(coalesce(data.edge_index, num_nodes=60))[0]
    del data.edge_attr
    in_deg = torch.bincount(data.edge_index[1], minlength=data.num_nodes).float()
    for layers, sparse_inputs in itertools.product((1, 2), ("auto", "off")):
        torch.manual_seed(0)
        enc = create_tuned_gnn("gcn", 8, 16, layers, sparse_inputs=sparse_inputs).eval()
        full = enc(data.x, data.edge_index)
        for batch in neighbor_loader(data, layers, -1, 16, shuffle=True, seed=0,
                                     inverse_sampling_weights=True):
            sampled = batch.e_id >= 0
            # Full fan-out: every sampled edge keeps weight 1; each outermost-hop node gets one
            # appended in-edge carrying its whole-graph degree, so GCN normalises it right.
            assert torch.equal(batch.edge_weight[sampled], torch.ones(int(sampled.sum())))
            padded = batch.edge_index[1, ~sampled]
            assert torch.equal(batch.edge_weight[~sampled], in_deg[batch.n_id[padded]])
            assert batch.edge_index.size(1) == sum(batch.num_sampled_edges)
            out = enc(batch.x, batch.edge_index, edge_weight=batch.edge_weight)
            size = batch.batch_size
            assert torch.allclose(out[:size], full[batch.n_id[:size]], atol=1e-5)
            plain = enc(batch.x, batch.edge_index[:, sampled])
    # Without the weights the seeds see the outermost hop with degree 1.
    assert not torch.allclose(plain[:size], full[batch.n_id[:size]], atol=1e-3)


def test_inverse_sampling_weights_multiply_edge_weights_and_need_n_id():
    from pyagc.sampling import InverseSamplingWeights, neighbor_loader
    star = _star(8)
    star.edge_weight = torch.full((16,), 0.5)
    batch = next(iter(neighbor_loader(star, 1, 2, 64, shuffle=False, seed=0,
                                      inverse_sampling_weights=True)))
    into_hub = batch.n_id[batch.edge_index[1]] == 0
    assert torch.allclose(batch.edge_weight[into_hub], torch.full((2,), 0.5 * 8 / 2))
    with pytest.raises(ValueError, match="n_id"):
        InverseSamplingWeights(star)(Data(edge_index=star.edge_index, num_nodes=9))


def test_edge_pair_loader_adds_uniform_edges_as_seeds():
    from pyagc.sampling import EdgePairNeighborLoader
    data = random_graph(num_nodes=60, num_edges=300)
    data = Data(x=data.x, edge_index=torch.unique(data.edge_index, dim=1), num_nodes=60)
    edges = set(map(tuple, data.edge_index.t().tolist()))
    make = lambda: EdgePairNeighborLoader(data, [3, 2], edges_per_batch=40, batch_size=16,
                                          shuffle=True, seed=3, backend="pyagc")
    counts = torch.zeros(data.edge_index.size(1))
    position = {tuple(p): i for i, p in enumerate(data.edge_index.t().tolist())}
    loader_ = make()
    for _ in range(25):                                           # 25 epochs of 4 batches
        for batch in loader_:
            seeds = batch.n_id[:batch.batch_size]
            assert seeds.unique().numel() == batch.batch_size      # distinct seeds
            pairs = seeds[batch.pos_pairs]                         # endpoints are seeds ...
            assert all(tuple(p) in edges for p in pairs.t().tolist())   # ... of real edges
            for p in pairs.t().tolist():
                counts[position[tuple(p)]] += 1
    first = [b.n_id for b in make()]
    assert all(torch.equal(a, b.n_id) for a, b in zip(first, make()))   # seeded
    assert torch.cat([b.n_id[:b.num_roots] for b in make()]).sort()[0].equal(torch.arange(60))
    # 4000 uniform draws over the edges: ~13 each (Poisson), none missed or favoured
    assert counts.sum() == 4000 and counts.min() >= 1 and counts.max() <= 32
    with pytest.raises(ValueError, match="edges_per_batch"):
        EdgePairNeighborLoader(data, [3], edges_per_batch=0, batch_size=8)
