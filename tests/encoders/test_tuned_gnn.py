import copy

import pytest
import torch
import torch_geometric.nn.models.basic_gnn as basic_gnn
from torch_geometric.data import Data
from torch_geometric.utils import remove_self_loops, to_dense_adj

from pyagc.data import make_csbm
from pyagc.encoders import GAT, GCN, GIN, GraphSAGE, TunedGCN, create_tuned_gnn, layerwise_inference
from pyagc.models import GAE
from pyagc.ops import to_sparse_adjacency
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


def bag_of_words_graph(seed=0, f=40):
    """small_graph with 0/1 features, 3% of them non-zero (CSR-worthy)."""
    x, ei = small_graph(seed=seed)
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(x.size(0), f, generator=g) < 0.03).float()
    return x, ei


def layouts_seen(enc):
    """(x, graph) layouts the first layer receives on each forward."""
    seen = []
    layer_forward = enc.conv_forward

    def spy(layer, x, edge_index, *args):
        if layer == 0:
            seen.append((x.layout, edge_index.layout))
        return layer_forward(layer, x, edge_index, *args)

    enc.conv_forward = spy
    return seen


def auto_and_off(gnn_type="gcn", f=40, hidden=8, **kw):
    """The same encoder with sparse_inputs 'auto' and 'off' (same weights), in eval mode."""
    auto = create_tuned_gnn(gnn_type, f, hidden, 2, sparse_inputs="auto", **kw).eval()
    off = create_tuned_gnn(gnn_type, f, hidden, 2, sparse_inputs="off", **kw).eval()
    off.load_state_dict(auto.state_dict())
    return auto, off


@pytest.mark.parametrize("kw", [dict(), dict(residual=True), dict(cached=True, residual=True),
                                dict(pre_linear=True, norm="batch_norm"),
                                dict(hidden=40, residual=True), dict(improved=True, jk="cat")])
def test_sparse_inputs_give_the_dense_output(kw):
    torch.manual_seed(5)
    x, ei = bag_of_words_graph()
    w = torch.rand(ei.size(1)) + 0.5
    auto, off = auto_and_off(**kw)
    seen = layouts_seen(auto)
    assert torch.allclose(auto(x, ei), off(x, ei), atol=1e-5)
    assert torch.allclose(auto(x, ei, w), off(x, ei, w), atol=1e-5)
    # The graph goes as CSR; x too unless a pre-linear comes first.
    x_layout = torch.strided if kw.get("pre_linear") else torch.sparse_csr
    assert seen[0] == (x_layout, torch.sparse_csr)
    # Explicit CSR inputs are taken as they are.
    assert torch.allclose(off(x.to_sparse_csr(), to_sparse_adjacency(ei, 30)), off(x, ei),
                          atol=1e-5)


def test_sparse_inputs_are_converted_once_and_again_after_an_edit_or_a_new_graph():
    torch.manual_seed(6)
    x, ei = bag_of_words_graph()
    auto, off = auto_and_off(cached=True)
    auto(x, ei)
    adj_t, x_csr = auto._adj_t._value, auto._sparse_x._value
    auto(x, ei)
    assert auto._adj_t._value is adj_t and auto._sparse_x._value is x_csr
    x[:5] = 1 - x[:5]                                   # in-place edit of the features
    assert torch.allclose(auto(x, ei), off(x, ei), atol=1e-5)
    ei[:, :10] = ei[:, :10].flip(0).clone()             # ... and of the graph
    assert torch.allclose(auto(x, ei), off(x, ei), atol=1e-5)
    x2, ei2 = bag_of_words_graph(seed=7)                # a new mini-batch
    assert torch.allclose(auto(x2, ei2), off(x2, ei2), atol=1e-5)
    assert auto._adj_t._value is not adj_t and auto._sparse_x._value is not x_csr


def test_dense_features_or_learned_weights_stay_as_given():
    torch.manual_seed(7)
    x, ei = small_graph()
    x = torch.cat([x] * 7, dim=1)[:, :40]               # dense features
    auto, off = auto_and_off()
    seen = layouts_seen(auto)
    assert torch.allclose(auto(x, ei), off(x, ei), atol=1e-5)
    assert seen[-1] == (torch.strided, torch.sparse_csr)
    w = (torch.rand(ei.size(1)) + 0.5).requires_grad_()
    auto(x, ei, w).sum().backward()                     # weights with grad keep the edge list
    assert seen[-1] == (torch.strided, torch.strided) and w.grad is not None
    x_bow, _ = bag_of_words_graph()
    auto(x_bow.requires_grad_(), ei).sum().backward()   # so do features with grad
    assert seen[-1] == (torch.strided, torch.sparse_csr) and x_bow.grad is not None


@pytest.mark.parametrize("gnn_type", ["sage", "gin", "gat", "gatv2"])
def test_only_gcn_converts_its_inputs(gnn_type):
    x, ei = bag_of_words_graph()
    enc = create_tuned_gnn(gnn_type, 40, 8, 2, **CONFIG_KWARGS, sparse_inputs="auto")
    seen = layouts_seen(enc)
    enc(x, ei)
    assert seen == [(torch.strided, torch.strided)]
    with pytest.raises(ValueError, match="sparse_inputs"):
        create_tuned_gnn("gcn", 40, 8, 2, sparse_inputs="always")


@pytest.mark.parametrize("kw", [dict(), dict(aggr="sum", residual=True),
                                dict(root_weight=False, norm="batch_norm"),
                                dict(aggr="max"), dict(project=True)])
def test_sage_csr_aggregation_equals_pyg_message_passing(kw):
    torch.manual_seed(4)
    x, ei = small_graph()
    ei = torch.cat([ei, ei[:, :3]], dim=1)           # repeated edges count twice, as in PyG
    x = torch.randn(x.size(0), 12)
    auto = create_tuned_gnn("sage", 12, 16, 2, **kw)
    off = create_tuned_gnn("sage", 12, 16, 2, sparse_inputs="off", **kw)
    off.load_state_dict(auto.state_dict())
    grads, outs = [], []
    for enc in (auto, off):
        x_in = x.clone().requires_grad_()
        out = enc(x_in, ei)
        out.sin().sum().backward()
        outs.append(out.detach())
        grads.append([x_in.grad] + [p.grad for p in enc.parameters()])
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    for g_auto, g_off in zip(*grads):
        assert torch.allclose(g_auto, g_off, atol=1e-5)
    # Full-batch training builds the aggregation matrix once for both layers and every epoch.
    if kw.get("aggr", "mean") in ("mean", "sum") and not kw.get("project"):
        built = auto._aggregation._value
        auto(x, ei)
        assert auto._aggregation._value is built


def test_gcn_aggregating_before_transforming_gives_the_same_output_and_gradients():
    # Dense 6-wide features into 32-wide layers: (A X) W is cheaper than A (X W), so the CSR
    # path aggregates first; PyG's GCNConv ('off') transforms first.
    torch.manual_seed(3)
    x, ei = small_graph()
    x = torch.randn(x.size(0), 6)
    auto = create_tuned_gnn("gcn", 6, 32, 2, residual=True)
    off = create_tuned_gnn("gcn", 6, 32, 2, residual=True, sparse_inputs="off")
    off.load_state_dict(auto.state_dict())
    calls = []
    original = auto.convs[0].lin.forward
    auto.convs[0].lin.forward = lambda h: calls.append(torch.equal(h, x)) or original(h)
    grads = []
    for enc in (auto, off):
        out = enc(x, ei)
        out.sin().sum().backward()
        grads.append([p.grad for p in enc.parameters()])
        if enc is auto:
            first = out.detach()
    assert calls == [False]                          # the first Linear saw A_hat X, not X
    assert torch.allclose(first, out.detach(), atol=1e-5)
    for g_auto, g_off in zip(*grads):
        assert torch.allclose(g_auto, g_off, atol=1e-5)


@pytest.mark.parametrize("kw", [dict(), dict(heads=4), dict(heads=2, concat=False),
                                dict(heads=2, attn_dropout=0.3), dict(add_self_loops=False),
                                dict(negative_slope=0.1, norm="layer_norm", residual=True)])
def test_gat_sparse_aggregation_equals_pyg_message_passing(kw):
    torch.manual_seed(9)
    x, ei = bag_of_words_graph()
    # A self-loop and a repeated edge, which GATConv drops / keeps.
    ei = torch.cat([ei, torch.tensor([[3, 4], [3, 5]]), ei[:, :1]], dim=1)
    auto = create_tuned_gnn("gat", 40, 8, 2, act="elu", **kw)
    off = create_tuned_gnn("gat", 40, 8, 2, act="elu", sparse_inputs="off", **kw)
    off.load_state_dict(auto.state_dict())
    for x_in in (x, x.to_sparse_csr()):
        grads = []
        for enc in (auto, off):
            enc.zero_grad()
            torch.manual_seed(1)                  # the same attention-dropout draw
            out = enc(x_in, ei)
            (out.sin()).sum().backward()
            grads.append([p.grad for p in enc.parameters()])
            if enc is auto:
                first = out.detach()
        assert torch.allclose(first, out.detach(), atol=1e-5)
        for g_auto, g_off in zip(*grads):
            assert torch.allclose(g_auto, g_off, atol=1e-5)
    # Sorted once per graph: a second pass reuses the pattern, a new graph gets its own.
    pattern = auto._graph._value
    auto(x, ei)
    assert auto._graph._value is pattern
    auto(x, ei[:, :-3].clone())
    assert auto._graph._value is not pattern


@pytest.mark.parametrize("gnn_type,kw", [("gcn", dict(sparse_inputs="auto")),
                                         ("gcn", dict(sparse_inputs="off", residual=True)),
                                         ("gcn", dict(pre_linear=True)), ("sage", dict())])
def test_x_perm_encodes_the_permuted_features(gnn_type, kw):
    torch.manual_seed(8)
    x, ei = bag_of_words_graph()
    enc = create_tuned_gnn(gnn_type, 40, 8, 2, **kw).eval()
    perm = torch.randperm(x.size(0))
    assert torch.allclose(enc(x, ei, x_perm=perm), enc(x[perm], ei), atol=1e-5)
    with pytest.raises(ValueError, match="x_perm"):
        enc(x, ei, x_perm=perm[:-1])


def test_encoder_caches_deepcopy_empty():
    x, ei = bag_of_words_graph()
    model = GAE(create_tuned_gnn("gcn", 40, 8, 2, cached=True))
    model.loss(x, ei)
    clone = copy.deepcopy(model)
    assert clone.encoder._adj_t._value is None and clone.encoder._cache._value is None
    assert torch.allclose(clone.embed(x, ei), model.embed(x, ei))


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


@pytest.mark.parametrize("gnn_type, kw", [
    ("gcn", {}), ("gcn", {"sparse_inputs": "off"}), ("sage", {}), ("gin", {}),
    ("gat", {"heads": 2}), ("gatv2", {"heads": 2}),
    ("gcn", {"norm": "batch_norm", "residual": True, "jk": "cat", "pre_linear": True}),
    ("sage", {"norm": "layer_norm", "jk": "max", "out_channels": 8}),
])
def test_layerwise_inference_equals_the_eval_forward(gnn_type, kw):
    graph = make_csbm(1500, 4, avg_degree=8, num_features=24, seed=0)
    torch.manual_seed(0)
    enc = create_tuned_gnn(gnn_type, 24, 16, num_layers=3, dropout=0.3, **kw)
    enc(graph.x, graph.edge_index)  # training pass: batch-norm statistics move off their init
    enc.eval()
    with torch.no_grad():
        expected = enc(graph.x, graph.edge_index)
    enc.train()
    # 7 batches of targets, each aggregated over its full in-neighbourhood.
    out = enc.inference(graph.x, graph.edge_index, batch_size=230)
    assert enc.training  # the caller's mode is restored
    assert torch.allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("gnn_type", ["gat", "gcn", "sage"])
def test_layerwise_inference_takes_csr_features(gnn_type):
    # DAEGC hands its GAT the bag-of-words features as CSR; layer-wise inference (mini-batch
    # centre initialisation) gathers each block's rows of them (CSR has no row indexing).
    torch.manual_seed(3)
    x, ei = bag_of_words_graph(f=40)
    enc = create_tuned_gnn(gnn_type, 40, 16, num_layers=2, **({"heads": 2} if gnn_type == "gat"
                                                               else {})).eval()
    with torch.no_grad():
        expected = enc(x, ei)
    out = enc.inference(x.to_sparse_csr(), ei, batch_size=7)
    assert torch.allclose(out, expected, atol=1e-5)


def test_layerwise_context_routes_only_eval_no_grad_passes():
    graph = make_csbm(600, 3, avg_degree=6, num_features=12, seed=1)
    model = GAE(create_tuned_gnn("sage", 12, 8, num_layers=2, dropout=0.5))
    calls = []
    encoder = model.encoder
    original = encoder.inference
    encoder.inference = lambda *a, **k: calls.append(k["batch_size"]) or original(*a, **k)
    with layerwise_inference(model, batch_size=100):
        assert encoder.layerwise_batch_size == 100
        z = model.infer_embedding(graph)                 # eval + no_grad: layer-wise
        model.train()
        model.loss(graph.x, graph.edge_index).backward()  # training: the usual forward
    assert calls == [100] and encoder.layerwise_batch_size is None
    model.eval()
    with torch.no_grad():
        assert torch.allclose(z, model.embed(graph.x, graph.edge_index), atol=1e-5)
    with pytest.raises(ValueError, match="batch_size"):
        encoder.inference(graph.x, graph.edge_index, batch_size=0)


@pytest.mark.parametrize("gnn_type, kw", [
    ("gcn", {}), ("gcn", {"sparse_inputs": "off"}), ("sage", {}), ("gat", {"heads": 2}),
    ("gin", {"residual": True, "pre_linear": True}),
])
def test_per_hop_trimming_keeps_the_needed_rows_exact(gnn_type, kw):
    graph = make_csbm(2000, 4, avg_degree=8, num_features=24, seed=0)
    batch = next(iter(NeighborLoader(graph, num_neighbors=[5, 5, 5], batch_size=64)))
    hops = dict(num_sampled_nodes_per_hop=batch.num_sampled_nodes,
                num_sampled_edges_per_hop=batch.num_sampled_edges)
    torch.manual_seed(0)
    enc = create_tuned_gnn(gnn_type, 24, 16, num_layers=3, **kw).eval()
    full = enc(batch.x, batch.edge_index)
    for keep_hops in (0, 1):
        out = enc(batch.x, batch.edge_index, keep_hops=keep_hops, **hops)
        rows = sum(batch.num_sampled_nodes[:keep_hops + 1])
        # Exactly the rows that are exact come back: the seeds and the first keep_hops hops.
        assert out.size(0) == rows
        assert torch.allclose(out, full[:rows], atol=1e-5)
    with pytest.raises(ValueError, match="one entry more"):
        enc(batch.x, batch.edge_index, num_sampled_nodes_per_hop=batch.num_sampled_nodes[:-1],
            num_sampled_edges_per_hop=batch.num_sampled_edges)


@pytest.mark.parametrize("gnn_type", ["gcn", "sage"])
def test_per_hop_trimming_works_on_bag_of_words_features(gnn_type):
    # Sparse binary features are converted to CSR, which cannot be sliced like a tensor:
    # GAE/DGI --mini-batch on Cora used to fail here.
    graph = make_csbm(2000, 4, avg_degree=8, num_features=24, seed=0)
    graph.x = (torch.rand(2000, 400, generator=torch.Generator().manual_seed(1)) < 0.02).float()
    batch = next(iter(NeighborLoader(graph, num_neighbors=[5, 5], batch_size=64)))
    torch.manual_seed(0)
    enc = create_tuned_gnn(gnn_type, 400, 16, num_layers=2, residual=True).eval()
    full = enc(batch.x, batch.edge_index)
    out = enc(batch.x, batch.edge_index, keep_hops=0,
              num_sampled_nodes_per_hop=batch.num_sampled_nodes,
              num_sampled_edges_per_hop=batch.num_sampled_edges)
    assert out.size(0) == batch.batch_size
    assert torch.allclose(out, full[:batch.batch_size], atol=1e-5)


def test_dgi_mini_batch_loss_is_unchanged_by_trimming(monkeypatch):
    from pyagc.encoders import TunedGNN
    from pyagc.models import DGI
    graph = make_csbm(2000, 4, avg_degree=8, num_features=24, seed=0)
    batch = next(iter(NeighborLoader(graph, num_neighbors=[5, 5], batch_size=64)))
    seen_rows = []

    def dgi():  # the same weights and the same corruption stream each time
        torch.manual_seed(0)
        model = DGI(16, create_tuned_gnn("gcn", 24, 16, num_layers=2, act="prelu"), seed=0)
        model.encoder.register_forward_hook(lambda mod, a, out: seen_rows.append(out.size(0)))
        return model

    trimmed = dgi().loss_batch(batch).total
    assert seen_rows == [batch.batch_size] * 2  # both views were trimmed to the seeds
    monkeypatch.setattr(TunedGNN, "supports_per_hop_trimming", False)
    assert torch.allclose(dgi().loss_batch(batch).total, trimmed, atol=1e-6)
    assert seen_rows[2:] == [batch.num_nodes] * 2


@pytest.mark.parametrize("aggr", ["mean", "sum"])
def test_sage_layerwise_inference_on_whole_graph_rows_equals_eval_forward(aggr):
    """SAGE inference aggregates row slices of one whole-graph matrix (blocks of targets,
    the last one short); it equals the eval-mode forward for both aggregations."""
    graph = make_csbm(1200, 4, avg_degree=8, num_features=40, seed=1)
    torch.manual_seed(0)
    enc = create_tuned_gnn("sage", 40, 16, num_layers=2, aggr=aggr, norm="batch_norm")
    enc(graph.x, graph.edge_index)
    enc.eval()
    with torch.no_grad():
        expected = enc(graph.x, graph.edge_index)
    out = enc.inference(graph.x, graph.edge_index, batch_size=500)
    assert torch.allclose(out, expected, atol=1e-4), float((out - expected).abs().max())


@pytest.mark.parametrize("kw", [dict(), dict(heads=4), dict(heads=2, concat=False),
                                dict(add_self_loops=False), dict(bias=False, norm="batch_norm")])
def test_gat_layerwise_inference_on_whole_graph_scores_equals_eval_forward(kw):
    """GAT inference scores every block's in-edges against one whole-graph W h (self-loops
    of the graph dropped and one per node added, repeated edges kept, nodes without in-edges
    included, the last block short); it equals the eval-mode forward."""
    graph = make_csbm(900, 4, avg_degree=6, num_features=30, seed=2)
    ei = graph.edge_index[:, graph.edge_index[1] >= 10]          # nodes 0-9: no in-edges
    ei = torch.cat([ei, torch.tensor([[5, 7, 7], [5, 7, 300]]), ei[:, :40]], dim=1)
    torch.manual_seed(0)
    enc = create_tuned_gnn("gat", 30, 16, num_layers=2, act="elu", **kw)
    enc(graph.x, ei)
    enc.eval()
    with torch.no_grad():
        expected = enc(graph.x, ei)
    calls = []
    enc.convs[0].register_forward_hook(lambda *args: calls.append(1))
    out = enc.inference(graph.x, ei, batch_size=200)
    assert calls == []                   # no per-block GATConv call: the whole-graph path
    assert torch.allclose(out, expected, atol=1e-5), float((out - expected).abs().max())


@pytest.mark.parametrize("gnn_type", ["gcn", "sage"])
def test_inference_normalises_and_activates_row_blocks_in_place(gnn_type):
    # Eval-mode batch norm (running statistics) and PReLU act row by row, so inference
    # applies them to blocks of rows of the layer output in place: the same values as on
    # the whole tensor, without a second [N, width] tensor per step.
    graph = make_csbm(500, 4, avg_degree=8, num_features=24, seed=0)
    torch.manual_seed(0)
    enc = create_tuned_gnn(gnn_type, 24, 16, num_layers=2, norm="batch_norm", act="prelu",
                           act_last=True)
    enc(graph.x, graph.edge_index).sum().backward()  # running statistics move off 0 / 1
    enc.eval()
    reference = enc(graph.x, graph.edge_index)  # gradients on: whole-tensor steps
    seen = []
    enc.norms[0].register_forward_hook(lambda mod, a, out: seen.append(a[0].size(0)))
    with torch.no_grad():
        assert torch.allclose(enc.inference(graph.x, graph.edge_index, batch_size=128),
                              reference, atol=1e-5)
    assert seen == [128, 128, 128, 116]
    # Batch norm without running statistics normalises by the batch: whole tensor.
    enc = create_tuned_gnn(gnn_type, 24, 16, num_layers=2, norm="batch_norm",
                           norm_kwargs={"track_running_stats": False}).eval()
    seen = []
    enc.norms[0].register_forward_hook(lambda mod, a, out: seen.append(a[0].size(0)))
    with torch.no_grad():
        enc.inference(graph.x, graph.edge_index, batch_size=128)
    assert seen == [500]


def test_inference_drops_the_conversions_it_cached_and_keeps_the_others():
    graph = make_csbm(300, 3, avg_degree=6, num_features=12, seed=0)
    enc = create_tuned_gnn("gcn", 12, 8, num_layers=2).eval()
    with torch.no_grad():
        enc.inference(graph.x, graph.edge_index, batch_size=64)
    assert enc._adj_t.value is None  # the whole-graph CSR adjacency is not kept
    enc.train()
    enc(graph.x, graph.edge_index)  # full-batch training converts the graph once ...
    kept = enc._adj_t.value
    with torch.no_grad():
        enc.inference(graph.x, graph.edge_index, batch_size=64)
    assert kept is not None and enc._adj_t.value is kept  # ... and keeps it


@pytest.mark.parametrize("improved", [False, True])
@pytest.mark.parametrize("self_loops", [False, True])
def test_gcn_normalisation_on_csr_equals_pyg_gcn_norm(improved, self_loops):
    # Built on the CSR arrays (no [2, E] edge lists): the same operator as PyG's gcn_norm,
    # also with existing and repeated self-loops, and the input left untouched.
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    from pyagc.encoders.tuned_gnn import _gcn_normalise
    gen = torch.Generator().manual_seed(0)
    edges = torch.cat([torch.randint(0, 50, (2, 400), generator=gen),
                       torch.tensor([[3, 3, 7], [3, 3, 7]])], dim=1)
    adj = to_sparse_adjacency(edges, 60)  # nodes 50-59 have no edges
    values = adj.values().clone()
    ours, none = _gcn_normalise(adj, None, 60, torch.float32, improved, self_loops)
    ref, _ = gcn_norm(adj, None, 60, improved, self_loops, "source_to_target", torch.float32)
    assert none is None and ours.layout == torch.sparse_csr
    assert torch.allclose(ours.to_dense(), ref.to_dense(), atol=1e-6)
    assert torch.equal(adj.values(), values)
    crow, col = ours.crow_indices(), ours.col_indices()
    for i in range(60):  # columns stay sorted within each row
        row = col[crow[i]:crow[i + 1]]
        assert bool((row[1:] >= row[:-1]).all())
