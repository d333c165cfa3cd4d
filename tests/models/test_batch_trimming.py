"""Mini-batch losses that read only the seed rows run the encoder with per-hop trimming
(two-view methods, DMoN, DinkNet and the graph-objective heads): same loss as the untrimmed pass,
the hop-2 rows never computed."""
import pytest
import torch
from pyagc.sampling import NeighborLoader

from pyagc.data import make_csbm
from pyagc.encoders import TunedGNN, create_tuned_gnn
from pyagc.models import CCASSG, DMoN, DinkNet, GCSBM, MinCut, NS4GC, Neuromap
from pyagc.models.dinknet import make_projector
from pyagc.transforms import GSSLTransform


def _views():
    return GSSLTransform(0.2, 0.3, seed=1), GSSLTransform(0.2, 0.3, seed=2)


BUILDERS = {
    "NS4GC": lambda enc: NS4GC(enc, *_views(), exact_max_nodes=0, num_samples=500, seed=0),
    "CCASSG": lambda enc: CCASSG(enc, *_views()),
    "MinCut": lambda enc: MinCut(enc, 16, 4, head_init="random"),
    "DMoN": lambda enc: DMoN(enc, 16, 4, head_init="random"),
    "DinkNet": lambda enc: DinkNet(enc, make_projector(16), 4, 16, seed=0),
}
#: Encoder passes per loss (two views; DinkNet: the graph and its row-shuffled corruption).
PASSES = {"NS4GC": 2, "CCASSG": 2, "DinkNet": 2}


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("gnn_type", ["gcn", "sage"])
def test_seed_row_losses_trim_and_keep_their_value(name, gnn_type, monkeypatch):
    graph = make_csbm(2000, 4, avg_degree=8, num_features=24, seed=0)
    batch = next(iter(NeighborLoader(graph, num_neighbors=[5, 5], batch_size=64)))
    seen_rows = []

    def model():  # the same weights and the same random streams each time
        torch.manual_seed(0)
        encoder = create_tuned_gnn(gnn_type, 24, 16, num_layers=2)
        encoder.register_forward_hook(lambda mod, a, out: seen_rows.append(out.size(0)))
        built = BUILDERS[name](encoder)
        if hasattr(built, "set_graph_statistics"):
            built.set_graph_statistics(graph)
        return built

    kwargs = {"pretrain": True} if name == "DinkNet" else {}
    trimmed = model().loss_batch(batch, **kwargs).total
    views = PASSES.get(name, 1)
    assert seen_rows == [batch.batch_size] * views  # only the seed rows were computed
    monkeypatch.setattr(TunedGNN, "supports_per_hop_trimming", False)
    untrimmed = model().loss_batch(batch, **kwargs).total
    assert seen_rows[views:] == [batch.num_nodes] * views
    assert torch.allclose(trimmed, untrimmed, atol=1e-5)


@pytest.mark.parametrize("cls", [Neuromap, GCSBM])
def test_other_graph_objective_heads_trim_too(cls):
    graph = make_csbm(2000, 4, avg_degree=8, num_features=24, seed=0)
    batch = next(iter(NeighborLoader(graph, num_neighbors=[5, 5], batch_size=64)))
    torch.manual_seed(0)
    encoder = create_tuned_gnn("gcn", 24, 16, num_layers=2)
    seen_rows = []
    encoder.register_forward_hook(lambda mod, a, out: seen_rows.append(out.size(0)))
    model = cls(encoder, 16, 4, head_init="random")
    model.set_graph_statistics(graph)
    assert torch.isfinite(model.loss_batch(batch).total)
    assert seen_rows == [batch.batch_size]


def test_daegc_batch_loss_keeps_hop_one_and_its_refresh_the_seeds(monkeypatch):
    # DAEGC's positives are the sampled edges into the seeds (hop-1 rows), its negatives
    # pairs of seeds: the encoder computes seeds and hop 1, the same loss as untrimmed; the
    # per-batch target refresh (refresh_batch_size=None) reads the seed rows only.
    from pyagc.models import DAEGC
    graph = make_csbm(2000, 4, avg_degree=8, num_features=24, seed=0)
    loader = NeighborLoader(graph, num_neighbors=[5, 5], batch_size=64)
    batch = next(iter(loader))
    seen_rows = []

    def model():
        torch.manual_seed(0)
        encoder = create_tuned_gnn("gat", 24, 16, num_layers=2, heads=2, concat=False)
        encoder.register_forward_hook(lambda mod, a, out: seen_rows.append(out.size(0)))
        return DAEGC(encoder, 4, 16, seed=0, refresh_batch_size=None)

    trimmed = model().loss_batch(batch, pretrain=True).total
    assert seen_rows == [int(batch.num_sampled_nodes[0] + batch.num_sampled_nodes[1])]
    first = model()
    first.initialize_cluster_centers(graph, num_layers=2, verbose=False)
    full = NeighborLoader(graph, num_neighbors=[-1, -1], batch_size=500)  # no sampling noise
    seen_rows.clear()
    target = first.refresh_target(full)
    assert seen_rows == [500] * 4 and target.shape == (2000, 4)
    monkeypatch.setattr(TunedGNN, "supports_per_hop_trimming", False)
    seen_rows.clear()
    untrimmed = model().loss_batch(batch, pretrain=True).total
    assert seen_rows == [batch.num_nodes]
    assert torch.allclose(trimmed, untrimmed, atol=1e-5)
    seen_rows.clear()
    torch.testing.assert_close(first.refresh_target(full), target, rtol=1e-4, atol=1e-5)


def test_daegc_edge_pair_batches_read_only_seed_rows_and_its_kl_the_roots():
    # The default loader draws the positive edges (their endpoints join the seeds): every term
    # reads seed rows, so the encoder computes only those, each equal to the untrimmed row;
    # the KL term covers the roots (a uniform sample), placed by their global ids.
    from _edge_pair_helpers import first_edge_pair_batch
    from pyagc.models import DAEGC
    graph = make_csbm(2000, 4, avg_degree=8, num_features=24, seed=0)
    torch.manual_seed(0)
    encoder = create_tuned_gnn("gat", 24, 16, num_layers=2, heads=2, concat=False)
    model = DAEGC(encoder, 4, 16, seed=0)
    loader, batch, _, (z, pos, neg) = first_edge_pair_batch(model, graph, pretrain=True)
    assert z.size(0) == batch.batch_size < batch.num_nodes
    model.eval()
    with torch.no_grad():
        full = model.embed(batch.x, batch.edge_index)
        trimmed = model.embed(batch.x, batch.edge_index,
                              **model._per_hop_inputs(batch, keep_hops=0))
    torch.testing.assert_close(trimmed, full[:batch.batch_size], rtol=1e-4, atol=1e-5)
    assert torch.equal(pos, batch.pos_pairs)
    assert int(neg.max()) < batch.num_roots == 64
    model.train()
    model.initialize_cluster_centers(graph, num_layers=2, verbose=False)
    model.refresh_target(loader)
    kl_rows = []
    kl_loss = model.cluster_head.kl_loss
    model.cluster_head.kl_loss = lambda q, index: kl_rows.append(index) or kl_loss(q, index)
    out = model.loss_batch(batch)
    assert torch.equal(kl_rows[0], batch.n_id[:64]) and set(out.components) == {"recon", "kl"}
