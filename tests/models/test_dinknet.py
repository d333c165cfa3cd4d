import pytest
import torch

from pyagc.clusters import TorchKMeans
from pyagc.encoders import create_tuned_gnn
from pyagc.metrics import label_metrics
from pyagc.models import DinkNet, LossOutput
from pyagc.models.dinknet import make_projector
from pyagc.runner import resolve_config, run_experiment
from pyagc.runner.config import training_stages
from pyagc.sampling import NeighborLoader
from pyagc.utils import set_seed

from _layerwise_helpers import recorded_inference_blocks

SMALL = {"model.encoder.hidden_channels": 32, "train.stages.pretrain.epochs": 60,
         "train.stages.pretrain.lr": 0.01, "train.stages.finetune.epochs": 20,
         "train.batch_size": 100, "train.inference_batch_size": 100}


def _model(seed=0, **kwargs):
    set_seed(seed)
    enc = create_tuned_gnn("gcn", 16, 32, 1, act="prelu", act_last=True)
    return DinkNet(enc, make_projector(32), 3, 32, seed=seed, **kwargs)


def test_yaml_has_two_stages_and_builds_the_projector(easy):
    config = resolve_config("DinkNet", "Cora")
    stages = training_stages(config["train"])
    assert [(s["name"], s["epochs"]) for s in stages] == [("pretrain", 200), ("finetune", 50)]
    assert stages[1]["init_clusters"] and stages[1]["lr"] == 0.001
    model = DinkNet.from_config(config["model"], easy, 3, seed=0)
    assert isinstance(model.projector, torch.nn.Linear) and model.projector.in_features == 512
    assert model.alpha == 10.0 and stages[0]["lr"] == 0.01
    deep = DinkNet.from_config({**config["model"], "projector": {"num_layers": 2}}, easy, 3)
    assert len(deep.projector.lins) == 2


def test_losses_and_components(easy):
    model = _model(alpha=0.5)
    pre = model.loss(easy.x, easy.edge_index, pretrain=True)
    assert isinstance(pre, LossOutput) and set(pre.components) == {"discri"}
    assert float(pre.total) > 0 and torch.isfinite(pre.total)
    out = model.loss(easy.x, easy.edge_index)
    assert set(out.components) == {"dilation", "shrink", "discri"}
    c = out.components
    # Default dilation weight 1: the paper's objective.
    assert float(out.total) == pytest.approx(c["dilation"] + c["shrink"] + 0.5 * c["discri"],
                                             rel=1e-5)
    # Weight 0: the term is logged but does not train.
    logged = _model(alpha=0.5, dilation=0.0).loss(easy.x, easy.edge_index)
    q = logged.components
    assert float(logged.total) == pytest.approx(q["shrink"] + 0.5 * q["discri"], rel=1e-5)
    paper = out
    p = paper.components
    assert p["dilation"] < 0
    assert float(paper.total) == pytest.approx(p["dilation"] + p["shrink"] + 0.5 * p["discri"],
                                               rel=1e-5)
    z = model.embed(easy.x, easy.edge_index)
    assert torch.allclose(z.norm(dim=1), torch.ones(300), atol=1e-5)
    no_disc = _model(alpha=0.0).loss(easy.x, easy.edge_index)
    assert set(no_disc.components) == {"dilation", "shrink"}


def test_discrimination_score_is_the_mean_or_the_sum_of_the_projection():
    model = _model()
    h = torch.randn(5, 32)
    by_hand = model.projector(h).sum(dim=-1)
    assert torch.allclose(model.discriminate(h), by_hand / 32, atol=1e-6)
    model.score = "sum"
    assert torch.allclose(model.discriminate(h), by_hand, atol=1e-5)
    mlp = _model(score="sum")
    mlp.projector = make_projector(32, num_layers=2)
    assert torch.allclose(mlp.discriminate(h), mlp.projector(h).sum(dim=-1))
    with pytest.raises(ValueError, match="score"):
        _model(score="max")


def test_default_corruption_is_seeded_and_a_custom_one_is_used(easy):
    a, b = _model(seed=1), _model(seed=1)
    assert torch.equal(a.pretrain_loss(easy.x, easy.edge_index),
                       b.pretrain_loss(easy.x, easy.edge_index))
    calls = []

    def flip(x, edge_index):
        calls.append(1)
        return -x

    model = _model(corruption=flip)
    model.pretrain_loss(easy.x, easy.edge_index)
    assert calls == [1]


def test_batch_loss_with_every_node_equals_the_full_shrink_and_dilation(easy):
    model = _model(alpha=0.0)
    model.eval()
    full = model.loss(easy.x, easy.edge_index)
    loader = NeighborLoader(easy, num_neighbors=[-1], batch_size=300, seed=0)
    with pytest.raises(ValueError, match="refresh_global"):
        model.loss_batch(next(iter(loader)))
    model.refresh_global(loader)
    part = model.loss_batch(next(iter(loader)))
    for key in ("dilation", "shrink"):
        assert part.components[key] == pytest.approx(full.components[key], rel=1e-4)


def test_stage_switch_sets_the_centres_to_kmeans_on_the_pretrain_embedding(easy):
    captured = {}
    original = DinkNet.initialize_cluster_centers

    def spy(self, data, *args, **kwargs):
        captured["z"] = self.infer_embedding(data).clone()
        captured["seed"] = torch.initial_seed()
        out = original(self, data, *args, **kwargs)
        captured["centers"] = self.cluster_head.cluster_centers.detach().clone()
        return out

    DinkNet.initialize_cluster_centers = spy
    try:
        run_experiment("DinkNet", data=easy, verbose=False, overrides={
            **SMALL, "train.stages.pretrain.epochs": 5, "train.stages.finetune.epochs": 1})
    finally:
        DinkNet.initialize_cluster_centers = original
    kmeans = TorchKMeans(n_clusters=3, n_init=10, random_state=int(captured["seed"] % 2 ** 31))
    kmeans.fit_predict(captured["z"])
    assert torch.allclose(captured["centers"], kmeans.cluster_centers_, atol=1e-6)


@pytest.mark.parametrize("mini_batch", [False, True])
def test_separates_an_easy_graph(easy, mini_batch):
    result = run_experiment("DinkNet", data=easy, verbose=False, mini_batch=mini_batch,
                            overrides=SMALL)
    nmi = label_metrics(easy.y, result.last.labels, ("NMI",))["NMI"]
    assert nmi > 0.8, nmi


def test_same_seed_same_labels(easy):
    runs = [run_experiment("DinkNet", data=easy, seed=4, verbose=False, overrides={
        **SMALL, "train.stages.pretrain.epochs": 10, "train.stages.finetune.epochs": 5}).last
        for _ in range(2)]
    assert torch.equal(runs[0].labels, runs[1].labels)


def test_bad_arguments():
    enc = create_tuned_gnn("gcn", 4, 8, 1)
    with pytest.raises(TypeError, match="projector"):
        DinkNet(enc, "linear", 3, 8)
    with pytest.raises(ValueError, match="alpha"):
        DinkNet(enc, make_projector(8), 3, 8, alpha=-1.0)
    with pytest.raises(ValueError, match="num_layers"):
        make_projector(8, num_layers=0)
    with pytest.raises(ValueError, match="power"):
        DinkNet(enc, make_projector(8), 3, 8, power=-1)
    with pytest.raises(ValueError, match="dilation"):
        DinkNet(enc, make_projector(8), 3, 8, dilation=-0.5)


def _dense_propagation(edge_index, n):
    a = torch.zeros(n, n)
    a[edge_index[1], edge_index[0]] = 1.0
    a = a + torch.eye(n)
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None, :]


def test_embedding_adds_the_propagated_global_term(easy):
    model = _model()
    model.eval()
    h = model.encode(easy.x, easy.edge_index)
    s = _dense_propagation(easy.edge_index, easy.num_nodes)
    expected = torch.nn.functional.normalize(h + torch.linalg.matrix_power(s, 20) @ h, dim=1)
    assert model.power == 20
    assert torch.allclose(model.embed(easy.x, easy.edge_index), expected, atol=1e-5)
    local = _model(power=0)
    local.eval()
    assert torch.allclose(local.embed(easy.x, easy.edge_index),
                          torch.nn.functional.normalize(local.encode(easy.x, easy.edge_index)),
                          atol=1e-6)


def test_gradient_free_smoothing_of_a_large_operand_uses_column_slabs(easy, monkeypatch):
    # Whole-graph refreshes and inference (no gradient) take the column-slab operator once
    # the operand is large; here "large" is lowered to a few KB. Same values as the CSR path.
    import importlib
    propagate_module = importlib.import_module("pyagc.ops.propagate")  # not the function
    model = _model()
    model.eval()
    with torch.no_grad():
        h = model.encode(easy.x, easy.edge_index)
        plain = model.smooth(h, easy.edge_index)
        assert model._operator.value is None
        monkeypatch.setattr(propagate_module, "SLAB_BYTES", 1024)
        slabbed = model.smooth(h, easy.edge_index)
    assert isinstance(model._operator.value, propagate_module.ColumnSlabs)
    torch.testing.assert_close(slabbed, plain, rtol=1e-5, atol=1e-6)
    # With a gradient the differentiable CSR products run, whatever the size.
    h = h.clone().requires_grad_()
    model._operator.clear()
    smoothed = model.smooth(h, easy.edge_index)
    assert smoothed.requires_grad and model._operator.value is None
    torch.testing.assert_close(smoothed.detach(), plain, rtol=1e-5, atol=1e-6)


def test_global_refresh_encodes_the_loaders_whole_graph_layer_by_layer(easy):
    # With refresh_batch_size set, the global term's H is one layer-wise pass over the
    # loader's whole graph: exact whatever the loader's fan-out (a pass over its fan-out-1
    # batches differs), and equal to the per-batch pass with full neighbourhoods.
    set_seed(0)
    model = DinkNet(create_tuned_gnn("sage", 16, 32, 1, act="prelu", act_last=True),
                    make_projector(32), 3, 32, seed=0, refresh_batch_size=64)
    model.eval()
    with torch.no_grad():
        h = model.encode(easy.x, easy.edge_index)
        exact = model.smooth(h, easy.edge_index)
    model.train()
    sampled = NeighborLoader(easy, num_neighbors=[1], batch_size=100, shuffle=True, seed=0)
    with recorded_inference_blocks(type(model.encoder)) as blocks:
        torch.testing.assert_close(model.refresh_global(sampled), exact, rtol=1e-4, atol=1e-5)
    assert blocks == [64] and model.training and model.encoder.layerwise_batch_size is None
    model.refresh_batch_size = None
    assert not torch.allclose(model.refresh_global(sampled), exact, atol=1e-3)
    full = NeighborLoader(easy, num_neighbors=[-1], batch_size=100)
    torch.testing.assert_close(model.refresh_global(full), exact, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="refresh_batch_size"):
        _model(refresh_batch_size=0)


def test_mini_batch_inference_smooths_over_the_whole_graph(easy):
    # SAGE (mean aggregation) gives the full-graph output on a full fan-out batch; a GCN
    # would not (PyG normalises a sampled subgraph by its own degrees).
    set_seed(0)
    enc = create_tuned_gnn("sage", 16, 32, 1, act="prelu", act_last=True)
    model = DinkNet(enc, make_projector(32), 3, 32, seed=0)
    full = model.infer_embedding(easy)
    order = torch.randperm(300, generator=torch.Generator().manual_seed(0))
    loader = NeighborLoader(easy, num_neighbors=[-1], input_nodes=order, batch_size=64)
    assert torch.allclose(model.infer_embedding(easy, loader, verbose=False), full[order],
                          atol=1e-5)
    part = NeighborLoader(easy, num_neighbors=[-1], input_nodes=torch.arange(100),
                          batch_size=64)
    with pytest.raises(ValueError, match="covers 100 of 300 nodes"):
        model.infer_embedding(easy, part, verbose=False)


def test_augmentation_zeroes_a_seeded_share_of_feature_columns_while_training():
    x = torch.rand(50, 400) + 0.1
    a, b = _model(seed=3, feature_drop=0.25), _model(seed=3, feature_drop=0.25)
    xa, xb = a.augment(x), b.augment(x)
    assert torch.equal(xa, xb)
    dropped = (xa == 0).all(dim=0)
    assert 0.15 < float(dropped.float().mean()) < 0.35
    assert torch.equal(xa[:, ~dropped], x[:, ~dropped])
    sparse = a.augment(x.to_sparse_csr())
    assert sparse.layout == torch.sparse_csr and float(((sparse.to_dense() == 0).all(0)).float().mean()) > 0.1
    a.eval()
    assert a.augment(x) is x
    assert _model(feature_drop=0.0).augment(x) is x
    with pytest.raises(ValueError, match="feature_drop"):
        _model(feature_drop=1.0)


def test_mini_batch_loader_normalises_a_sampled_hub_by_its_whole_degree():
    # A hub with 20 leaves of identical features: any 5 sampled leaves, weighted by 20/5, give
    # the hub (and every leaf) exactly its full-graph GCN output; unweighted, the hub is
    # normalised as a node of degree 5.
    from torch_geometric.data import Data
    leaves = torch.arange(1, 21)
    edge_index = torch.cat([torch.stack([leaves, torch.zeros_like(leaves)]),
                            torch.stack([torch.zeros_like(leaves), leaves])], dim=1)
    x = torch.zeros(21, 16)
    x[0] = torch.randn(16)
    x[1:] = torch.randn(16)
    star = Data(x=x, edge_index=edge_index, num_nodes=21)
    model = _model()
    model.eval()
    full = model.encode(x, edge_index)
    batch = next(iter(model.train_loader(star, mini_batch=True, batch_size=64, fan_out=5,
                                         seed=0)))
    assert int((batch.n_id[batch.edge_index[1]] == 0).sum()) == 5
    with torch.no_grad():
        part = model.encode(**model._inputs(batch))
        plain = model.encode(batch.x, batch.edge_index)
    assert torch.allclose(part, full[batch.n_id], atol=1e-5)
    assert not torch.allclose(plain[batch.n_id == 0], full[:1], atol=1e-3)


@pytest.mark.parametrize("dilation", [0.0, 1.0])
def test_centres_rest_on_their_cluster_means_only_without_dilation(easy, dilation):
    # The embedding held fixed, only the centres trained from KMeans's: without the dilation
    # they stay the means of their clusters (the KMeans partition is kept); with the paper's
    # weight 1 (K = 3: the push 4/(K-1) equals the shrink pull) they leave them.
    model = _model(alpha=0.0, dilation=dilation)
    model.eval()
    with torch.no_grad():
        z = model.embed(easy.x, easy.edge_index)
    km = TorchKMeans(n_clusters=3, n_init=3, random_state=0).fit(z)
    model.cluster_head.reset_cluster_centers(km.cluster_centers_)
    opt = torch.optim.Adam(model.cluster_head.parameters(), lr=0.01)
    for _ in range(150):
        opt.zero_grad()
        out = model.loss(easy.x, easy.edge_index)
        out.total.backward()
        opt.step()
    labels = model.cluster_head.cluster(z)
    means = torch.stack([z[labels == k].mean(0) for k in range(3)])
    offset = float((model.cluster_head.centers().detach() - means).norm(dim=1).max())
    if dilation == 0.0:
        assert offset < 0.02
        assert label_metrics(km.labels_, labels, metrics=("NMI",))["NMI"] > 0.99
    else:
        assert offset > 0.1
