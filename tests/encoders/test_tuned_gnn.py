import pytest
import torch
import torch_geometric.nn.models.basic_gnn as basic_gnn
from torch_geometric.data import Data
from torch_geometric.utils import remove_self_loops, to_dense_adj

from pyagc.encoders import GAT, GCN, GIN, GraphSAGE, TunedGCN, create_tuned_gnn
from pyagc.ops.encoder_inputs import to_sparse_adjacency
from pyagc.sampling import NeighborLoader

# Options the published configs pass to every encoder, whatever its type.
CONFIG_KWARGS = dict(add_self_loops=None, normalize=True, improved=False, cached=True,
                     aggr="mean", project=False, heads=1, concat=True, negative_slope=0.2,
                     train_eps=False, bias=True)


def small_graph(n=30, e=120, f=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    # No self-loops: GCN adds a loop only where none exists, which the dense reference omits.
    ei, _ = remove_self_loops(torch.randint(0, n, (2, e), generator=g))
    return torch.randn(n, f, generator=g), ei


def test_reexports_are_pyg():
    assert GCN is basic_gnn.GCN and GraphSAGE is basic_gnn.GraphSAGE
    assert GIN is basic_gnn.GIN and GAT is basic_gnn.GAT


@pytest.mark.parametrize("gnn_type", ["gcn", "sage", "gin", "gat", "gatv2"])
def test_shapes_and_config_kwargs(gnn_type):
    torch.manual_seed(0)
    x, ei = small_graph()
    enc = create_tuned_gnn(gnn_type, 6, 16, 2, out_channels=4, **CONFIG_KWARGS)
    assert enc(x, ei).shape == (30, 4)
    one = create_tuned_gnn(gnn_type, 6, 16, 1)
    assert one(x, ei).shape == (30, 16) and len(one.convs) == 1
    full = create_tuned_gnn(gnn_type, 6, 16, 3, out_channels=5, dropout=0.3, act="elu",
                            norm="layer_norm", residual=True, pre_linear=True, jk="cat")
    assert full(x, ei).shape == (30, 5)
    loss = full(x, ei).pow(2).mean()
    loss.backward()
    assert all(p.grad is not None for p in full.parameters() if p.requires_grad)


def test_gcn_matches_dense_formula():
    torch.manual_seed(1)
    x, ei = small_graph(n=12, e=40)
    enc = create_tuned_gnn("gcn", 6, 8, 2, out_channels=3, act="relu")
    a = to_dense_adj(ei, max_num_nodes=12)[0] + torch.eye(12)  # duplicates add up, as in PyG
    d = a.sum(0).pow(-0.5)  # in-degree: column sums of A[src, dst]
    a_hat = d.view(-1, 1) * a.t() * d.view(1, -1)  # row = target
    c1, c2 = enc.convs
    h = torch.relu(a_hat @ (x @ c1.lin.weight.t()) + c1.bias)
    ref = a_hat @ (h @ c2.lin.weight.t()) + c2.bias
    assert torch.allclose(enc(x, ei), ref, atol=1e-5)
    # improved=True puts weight 2 on the self-loops
    imp = create_tuned_gnn("gcn", 6, 3, 1, improved=True)
    a2 = to_dense_adj(ei, max_num_nodes=12)[0] + 2 * torch.eye(12)
    d2 = a2.sum(0).pow(-0.5)
    ref2 = (d2.view(-1, 1) * a2.t() * d2.view(1, -1)) @ (x @ imp.convs[0].lin.weight.t())
    assert torch.allclose(imp(x, ei), ref2 + imp.convs[0].bias, atol=1e-5)


def test_act_last_and_activation_names():
    torch.manual_seed(2)
    x, ei = small_graph()
    assert (create_tuned_gnn("gcn", 6, 16, 2, act_last=True)(x, ei) >= 0).all()
    assert (create_tuned_gnn("gcn", 6, 16, 2)(x, ei) < 0).any()
    for act, cls in [("prelu", torch.nn.PReLU), ("selu", torch.nn.SELU), ("elu", torch.nn.ELU),
                     ("leaky_relu", torch.nn.LeakyReLU)]:
        enc = create_tuned_gnn("gcn", 6, 16, 2, act=act, act_last=True)
        assert all(isinstance(a, cls) for a in enc.acts)
    enc = create_tuned_gnn("gcn", 6, 16, 2, act="prelu", act_last=True)
    assert enc.acts[0] is not enc.acts[1]  # one learnable slope per layer
    leaky = create_tuned_gnn("gcn", 6, 16, 1, act="leaky_relu", act_last=True,
                             negative_slope=0.5)
    assert leaky.acts[0].negative_slope == 0.5
    bn = create_tuned_gnn("sage", 6, 16, 2, norm="batch_norm")
    assert isinstance(bn.norms[0], torch.nn.BatchNorm1d)
    ln = create_tuned_gnn("sage", 6, 16, 2, norm="layer_norm")
    assert isinstance(ln.norms[0], torch.nn.LayerNorm)
    for jk in ["last", "max", "lstm"]:
        assert create_tuned_gnn("gin", 6, 16, 2, jk=jk)(x, ei).shape == (30, 16)


def test_gcn_cache_is_safe():
    torch.manual_seed(3)
    x, ei = small_graph()
    cached = create_tuned_gnn("gcn", 6, 8, 2, cached=True).eval()
    plain = TunedGCN(6, 8, 2).eval()
    plain.load_state_dict(cached.state_dict())
    out1 = cached(x, ei)
    first = cached._cache._value
    out2 = cached(x, ei)
    assert cached._cache._value is first and torch.allclose(out1, out2)
    # Another graph (a mini-batch) is normalised afresh: same result as without caching.
    x2, ei2 = small_graph(seed=9)
    assert torch.allclose(cached(x2, ei2), plain(x2, ei2), atol=1e-6)
    # An in-place edit of the edge list invalidates the cache too.
    ei[:, :10] = ei[:, :10].flip(0).clone()
    assert torch.allclose(cached(x, ei), plain(x, ei), atol=1e-6)
    # A sparse adj_t (rows = targets) gives the same result as the edge list.
    adj_t = to_sparse_adjacency(ei, 30)
    assert torch.allclose(cached(x, adj_t), plain(x, ei), atol=1e-5)


def test_sparse_inputs_match_dense():
    torch.manual_seed(5)
    x, ei = small_graph()
    x = (x > 0.8).float()  # sparse bag-of-words-like features
    for kw in [dict(residual=True), dict(pre_linear=True, norm="batch_norm"),
               dict(hidden_channels=6, residual=True)]:
        hidden = kw.pop("hidden_channels", 8)
        enc = create_tuned_gnn("gcn", 6, hidden, 2, cached=True, **kw).eval()
        dense = enc(x, ei)
        sparse = enc(x.to_sparse_csr(), to_sparse_adjacency(ei, 30))
        assert torch.allclose(dense, sparse, atol=1e-5)


def test_minibatch_equals_full_graph():
    torch.manual_seed(4)
    x, ei = small_graph(n=50, e=200)
    data = Data(x=x, edge_index=ei)
    seeds = torch.arange(0, 50, 5)
    for gnn_type, hops in [("sage", 2), ("gcn", 3), ("gat", 2), ("gin", 2)]:
        enc = create_tuned_gnn(gnn_type, 6, 8, 2, cached=True, norm="layer_norm",
                               residual=True).eval()
        full = enc(x, ei)[seeds]
        batch = next(iter(NeighborLoader(data, [-1] * hops, input_nodes=seeds,
                                         batch_size=len(seeds))))
        out = enc(batch.x, batch.edge_index)[:batch.batch_size]
        assert torch.allclose(out, full, atol=1e-5), gnn_type
        assert torch.allclose(enc(x, ei)[seeds], full)  # the cache did not keep the batch


def test_errors():
    x, ei = small_graph()
    with pytest.raises(ValueError, match="gnn_type"):
        create_tuned_gnn("gcnn", 6, 8, 2)
    with pytest.raises(TypeError, match="Unknown encoder option"):
        create_tuned_gnn("gcn", 6, 8, 2, colour="red")
    with pytest.raises(ValueError, match="divisible"):
        create_tuned_gnn("gat", 6, 10, 2, heads=3)
    with pytest.raises(ValueError, match="activation"):
        create_tuned_gnn("gcn", 6, 8, 2, act="sparkle")
    with pytest.raises(ValueError, match="norm"):
        create_tuned_gnn("gcn", 6, 8, 2, norm="sparkle_norm")
    with pytest.raises(ValueError, match="num_layers"):
        create_tuned_gnn("gcn", 6, 8, 0)
    with pytest.raises(ValueError, match="in_channels=6"):
        create_tuned_gnn("gcn", 6, 8, 2)(torch.randn(30, 5), ei)
    with pytest.raises(ValueError, match="jk"):
        create_tuned_gnn("gcn", 6, 8, 2, jk="sum")
