import os

import pytest
import torch

from pyagc.clusters import TorchKMeans
from pyagc.data import make_csbm
from pyagc.encoders import create_tuned_gnn
from pyagc.metrics import label_metrics
from pyagc.models import DAEGC, LossOutput
from pyagc.runner import resolve_config, run_experiment
from pyagc.runner.config import training_stages
from pyagc.runner.checkpoint import CheckpointManager
from pyagc.sampling import NeighborLoader
from pyagc.utils import set_seed

from _layerwise_helpers import recorded_inference_blocks

SMALL = {"model.encoder.hidden_channels": 16, "model.encoder.heads": 2,
         "train.stages.pretrain.epochs": 60, "train.stages.finetune.epochs": 30,
         "train.stages.finetune.lr": 0.005, "train.batch_size": 100,
         "train.inference_batch_size": 100}


def _model(in_channels=16, k=3, seed=0, **kwargs):
    set_seed(seed)
    enc = create_tuned_gnn("gat", in_channels, 16, 2, act="elu", heads=2)
    return DAEGC(enc, k, 16, seed=seed, **kwargs)


def test_yaml_has_the_published_cora_stages():
    stages = training_stages(resolve_config("DAEGC", "Cora")["train"])
    assert [(s["name"], s["epochs"], s["lr"]) for s in stages] == [
        ("pretrain", 200, 0.01), ("finetune", 100, 0.001)]
    assert stages[0]["loss_kwargs"] == {"pretrain": True} and not stages[0]["init_clusters"]
    assert stages[1]["init_clusters"] and stages[1]["loss_kwargs"] == {"pretrain": False}


def test_losses_and_components(easy):
    model = _model()
    pre = model.loss(easy.x, easy.edge_index, pretrain=True)
    assert isinstance(pre, LossOutput) and set(pre.components) == {"recon"}
    torch.manual_seed(0)
    model.initialize_cluster_centers(easy, num_layers=2, verbose=False)
    assert model.cluster_head.target is None
    out = model.loss(easy.x, easy.edge_index)
    assert set(out.components) == {"recon", "kl"} and model.cluster_head.target is not None
    expected = out.components["recon"] + 10.0 * out.components["kl"]
    assert float(out.total) == pytest.approx(expected, rel=1e-5)
    assert model.infer_full(easy).shape == (300,)
    z = model.embed(easy.x, easy.edge_index)
    assert torch.allclose(z.norm(dim=1), torch.ones(300), atol=1e-5)       # normalize=True


def test_reconstruction_is_the_inner_product_decoders_cross_entropy(easy):
    import torch.nn.functional as F
    model = _model()
    z = model.embed(easy.x, easy.edge_index).detach().requires_grad_()
    ei = easy.edge_index
    neg = torch.randint(0, 300, (2, 500), generator=torch.Generator().manual_seed(0))
    loss = model.recon_loss(z, ei, neg)
    (grad,) = torch.autograd.grad(loss, z)
    z2 = z.detach().clone().requires_grad_()
    dec = model.decoder                    # PyG's InnerProductDecoder, pair by pair
    expected = (F.softplus(-dec(z2, ei, sigmoid=False)).mean()
                + F.softplus(dec(z2, neg, sigmoid=False)).mean())
    (expected_grad,) = torch.autograd.grad(expected, z2)
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    assert torch.allclose(grad, expected_grad, atol=1e-6)
    # A user's decoder is called as given.
    calls = []

    class Decoder(torch.nn.Module):
        def forward(self, z, edge_index, sigmoid=True):
            calls.append(edge_index.size(1))
            return (z[edge_index[0]] * z[edge_index[1]]).sum(-1)

    custom = _model(decoder=Decoder())
    assert float(custom.recon_loss(z, ei, neg)) == pytest.approx(float(expected), rel=1e-6)
    assert calls == [ei.size(1), 500]


def test_target_is_refreshed_every_update_interval_epochs(easy):
    model = _model(update_interval=3)
    model.initialize_cluster_centers(easy, num_layers=2, verbose=False)
    opt = {"model": torch.optim.Adam(model.parameters(), lr=0.01)}
    refreshed = []
    original = model.refresh_target

    def spy(loader):
        refreshed.append(epoch)
        return original(loader)

    model.refresh_target = spy
    for epoch in range(1, 8):
        model.fit_epoch(easy, opt, epoch)
    assert refreshed == [1, 4, 7]
    for epoch in range(1, 3):
        model.fit_epoch(easy, opt, epoch, pretrain=True)
    assert refreshed == [1, 4, 7]                      # no target while pretraining
    refreshed.clear()
    for epoch in range(1, 5):                          # the documented train_full loop
        model.train_full(easy, opt["model"], epoch, verbose=False)
    assert refreshed == [1, 4]


def test_mini_batch_target_covers_every_node_and_batch_loss_runs(easy):
    model = _model()
    model.initialize_cluster_centers(easy, num_layers=2, verbose=False)
    loader = NeighborLoader(easy, num_neighbors=[-1, -1], batch_size=64, shuffle=True, seed=0)
    p = model.refresh_target(loader)
    q = model.cluster_head.soft_assign(model.infer_embedding(easy))
    from pyagc.clusters.dec_head import target_distribution
    assert torch.allclose(p, target_distribution(q), atol=1e-5)
    out = model.loss_batch(next(iter(loader)))
    assert set(out.components) == {"recon", "kl"} and torch.isfinite(out.total)


def test_mini_batch_refresh_embeds_the_loaders_whole_graph_layer_by_layer():
    # With refresh_batch_size set, a loader's refresh is one layer-wise pass over its whole
    # graph (full neighbourhoods, node blocks of that size): the exact target, equal to the
    # whole-graph refresh and to the per-batch pass with full neighbourhoods, whatever the
    # loader's fan-out (a pass over its fan-out-2 batches would differ).
    graph = make_csbm(600, 3, avg_degree=6, num_features=16, seed=1)
    model = _model(refresh_batch_size=128)
    model.initialize_cluster_centers(graph, num_layers=2, verbose=False)
    expected = model.refresh_target(graph).clone()
    per_batch = _model(refresh_batch_size=None)
    per_batch.load_state_dict(model.state_dict())
    per_batch.cluster_head.reset_cluster_centers(model.cluster_head.cluster_centers.detach())
    full = NeighborLoader(graph, num_neighbors=[-1, -1], batch_size=100)
    torch.testing.assert_close(per_batch.refresh_target(full), expected, rtol=1e-4, atol=1e-5)

    sampled = NeighborLoader(graph, num_neighbors=[2, 2], batch_size=100, shuffle=True, seed=0)
    with recorded_inference_blocks(type(model.encoder)) as blocks:
        p = model.refresh_target(sampled)
    assert blocks == [128] and p.shape == (600, 3)
    torch.testing.assert_close(p, expected, rtol=1e-4, atol=1e-5)
    assert model.training and model.encoder.layerwise_batch_size is None
    with pytest.raises(ValueError, match="refresh_batch_size"):
        _model(refresh_batch_size=0)


def test_stage_switch_sets_the_centres_to_kmeans_on_the_pretrain_embedding(easy):
    captured = {}
    original = DAEGC.initialize_cluster_centers

    def spy(self, data, *args, **kwargs):
        captured["z"] = self.infer_embedding(data).clone()
        captured["seed"] = torch.initial_seed()
        centers = original(self, data, *args, **kwargs)
        captured["centers"] = self.cluster_head.cluster_centers.detach().clone()
        return centers

    DAEGC.initialize_cluster_centers = spy
    try:
        run_experiment("DAEGC", data=easy, verbose=False, overrides={
            **SMALL, "train.stages.pretrain.epochs": 5, "train.stages.finetune.epochs": 1})
    finally:
        DAEGC.initialize_cluster_centers = original
    kmeans = TorchKMeans(n_clusters=3, n_init=10, random_state=int(captured["seed"] % 2 ** 31))
    kmeans.fit_predict(captured["z"])
    assert torch.allclose(captured["centers"], kmeans.cluster_centers_, atol=1e-6)


@pytest.mark.parametrize("mini_batch", [False, True])
def test_separates_an_easy_graph(easy, mini_batch):
    result = run_experiment("DAEGC", data=easy, verbose=False, mini_batch=mini_batch,
                            overrides=SMALL)
    nmi = label_metrics(easy.y, result.last.labels, ("NMI",))["NMI"]
    assert nmi > 0.8, nmi


def test_same_seed_same_labels(easy):
    runs = [run_experiment("DAEGC", data=easy, seed=5, verbose=False, overrides={
        **SMALL, "train.stages.pretrain.epochs": 10, "train.stages.finetune.epochs": 6}).last
        for _ in range(2)]
    assert torch.equal(runs[0].labels, runs[1].labels)


def test_resume_continues_in_the_finetune_stage(tmp_path):
    graph = make_csbm(120, 3, num_features=8, feature_signal=2.0, seed=2)
    overrides = {**SMALL, "train.stages.pretrain.epochs": 4, "train.stages.finetune.epochs": 7,
                 "train.stages.finetune.lr": 0.01, "model.update_interval": 2,
                 "train.checkpoint_every": 1}
    straight = run_experiment("DAEGC", data=graph, overrides=overrides,
                              out_dir=str(tmp_path / "a"), verbose=False)

    def interrupt(stage, epoch, loss):
        if stage == "finetune" and epoch == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment("DAEGC", data=graph, overrides=overrides, out_dir=str(tmp_path / "b"),
                       verbose=False, callbacks=[interrupt])
    state = CheckpointManager(tmp_path / "b" / "checkpoints" / "run0").load("last")
    assert state["train_state"]["stage_index"] == 1 and state["train_state"]["epoch"] == 4
    assert "cluster_head.target" in state["model"]
    resumed = run_experiment("DAEGC", data=graph, overrides=overrides,
                             out_dir=str(tmp_path / "b"), verbose=False, resume=True)
    assert os.path.exists(tmp_path / "b" / "results.json")
    assert torch.equal(resumed.last.labels, straight.last.labels)
    assert [h["stage"] for h in resumed.last.history].count("finetune") == 7


def test_bad_arguments():
    enc = create_tuned_gnn("gat", 4, 8, 1)
    with pytest.raises(ValueError, match="update_interval"):
        DAEGC(enc, 3, 8, update_interval=0)
    with pytest.raises(ValueError, match="gamma"):
        DAEGC(enc, 3, 8, gamma=-1.0)
    with pytest.raises(TypeError, match="encoder"):
        DAEGC("gat", 3, 8)
