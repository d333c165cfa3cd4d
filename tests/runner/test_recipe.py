import json
import os

import pytest
import torch
from torch import Tensor
from torch.nn import Module, Parameter

from pyagc.data import make_csbm
from pyagc.models.base import ClusteringModel, TrainableModel
from pyagc.runner import resolve_config, run_experiment
from pyagc.runner.checkpoint import CheckpointManager, atomic_save
from pyagc.runner.recipe import train_model


class Oscillating(TrainableModel):
    """loss = (w - 1)^2; with SGD at lr=1.5 the iterates are w = 0, 3, -3, 9, ... so the loss
    is 1, 4, 16, 64, ...: the first epoch is the best one."""

    def __init__(self) -> None:
        super().__init__()
        self.w = Parameter(torch.zeros(()))

    def loss(self, x: Tensor, edge_index: Tensor, **kwargs) -> Tensor:
        return (self.w - 1.0) ** 2

    def embed(self, x: Tensor, edge_index: Tensor, **kwargs) -> Tensor:
        return x * self.w


def _config(epochs: int, **train) -> dict:
    config = resolve_config("KMeans")
    config["train"].update(epochs=epochs, **train)
    return config


def test_patience_stops_early_and_best_weights_are_restored():
    graph = make_csbm(30, 2, seed=0)
    model = Oscillating()
    config = _config(10, lr=1.5, optimizer="sgd", patience=3)
    state = train_model(model, graph, config, verbose=False)
    assert [round(h["loss"], 6) for h in state.history] == [1.0, 4.0, 16.0, 64.0]
    assert state.best_epoch == 1
    # The weights after the best epoch (w = 3), not the last ones (w = 9 after epoch 4 -> -15).
    assert float(model.w) == pytest.approx(3.0)
    model_last = Oscillating()
    train_model(model_last, graph,
                _config(4, lr=1.5, optimizer="sgd", patience=0, restore_best=False),
                verbose=False)
    assert float(model_last.w) == pytest.approx(-15.0)


class ToyHead(Module):
    def __init__(self, n_clusters: int, dim: int) -> None:
        super().__init__()
        self.n_clusters = n_clusters
        self.centers = Parameter(torch.zeros(n_clusters, dim))
        self.initialised = 0

    def reset_cluster_centers(self, centers: Tensor) -> None:
        self.centers.data.copy_(centers)
        self.initialised += 1


class ToyJoint(ClusteringModel):
    """A linear encoder pulled towards its nearest centre (a k-means-like joint model)."""

    def __init__(self, in_channels: int, n_clusters: int) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(in_channels, 4)
        self.cluster_head = ToyHead(n_clusters, 4)
        self.seen_weights = []

    @classmethod
    def from_config(cls, cfg, data, n_clusters, *, seed=None):
        return cls(data.num_features, n_clusters)

    def embed(self, x: Tensor, edge_index: Tensor, **kwargs) -> Tensor:
        return self.lin(x)

    def forward(self, x: Tensor, edge_index: Tensor, **kwargs) -> Tensor:
        return torch.cdist(self.embed(x, edge_index), self.cluster_head.centers).argmin(1)

    def loss(self, x: Tensor, edge_index: Tensor, weight: float = 1.0, **kwargs) -> Tensor:
        self.seen_weights.append(weight)
        z = self.embed(x, edge_index)
        dist = torch.cdist(z, self.cluster_head.centers).min(1).values
        return weight * dist.pow(2).mean() + (z.pow(2).mean() - 1.0) ** 2


def test_two_stage_recipe_initialises_centres_and_passes_loss_kwargs():
    graph = make_csbm(120, 3, num_features=8, feature_signal=3.0, seed=1)
    # A user's own model class runs through the same runner as the packaged methods.
    result = run_experiment(ToyJoint, data=graph, verbose=False, overrides=[
        "+train.stages.pretrain.epochs=2", "+train.stages.finetune.epochs=3",
        "+train.stages.finetune.init_clusters=true",
        "+train.stages.finetune.loss_kwargs={weight: 2.0}"])
    model = result.last.model
    history = result.last.history
    assert [(h["stage"], h["epoch"]) for h in history] == [
        ("pretrain", 1), ("pretrain", 2), ("finetune", 1), ("finetune", 2), ("finetune", 3)]
    assert model.cluster_head.initialised == 1           # once, before finetuning
    assert model.seen_weights == [1.0, 1.0, 2.0, 2.0, 2.0]
    labels = result.last.labels
    assert labels.shape == (120,) and labels.dtype == torch.long
    # Joint methods are scored on their own labels: the structure metrics are always there.
    assert {"NMI", "ARI", "ACC", "Mod", "Cond"} <= set(result.records[0]["metrics"])


def test_interrupted_run_resumes_to_the_same_result(tmp_path):
    overrides = ["data.num_nodes=150", "epochs=6", "checkpoint_every=2", "patience=0",
                 "hidden_channels=8"]
    straight = run_experiment("GAE", overrides=overrides, out_dir=str(tmp_path / "a"),
                              verbose=False)

    def interrupt(stage, epoch, loss):
        if epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment("GAE", overrides=overrides, out_dir=str(tmp_path / "b"), verbose=False,
                       callbacks=[interrupt])
    ckpt = CheckpointManager(tmp_path / "b" / "checkpoints" / "run0")
    assert ckpt.load("last")["train_state"]["epoch"] == 3 and ckpt.has("best")
    assert not os.path.exists(tmp_path / "b" / "results.json")
    resumed = run_experiment("GAE", overrides=overrides, out_dir=str(tmp_path / "b"),
                             verbose=False, resume=True)

    def losses(folder):
        with open(tmp_path / folder / "runs" / "run0.json") as handle:
            return [h["loss"] for h in json.load(handle)["history"]]

    assert len(losses("b")) == 6
    assert losses("b") == pytest.approx(losses("a"), rel=1e-6)
    assert resumed.records[0]["metrics"] == pytest.approx(straight.records[0]["metrics"])
    # A finished folder is not overwritten by accident, and resuming needs the same options.
    with pytest.raises(ValueError, match="already holds finished results"):
        run_experiment("GAE", overrides=overrides, out_dir=str(tmp_path / "a"), verbose=False)
    with pytest.raises(ValueError, match="options differ"):
        run_experiment("GAE", overrides=overrides[:-1] + ["hidden_channels=9"],
                       out_dir=str(tmp_path / "b"), verbose=False, resume=True)


def test_atomic_save_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "ckpt" / "last.pt"
    atomic_save({"w": torch.arange(3)}, path)
    atomic_save({"w": torch.arange(4)}, path)
    assert os.listdir(tmp_path / "ckpt") == ["last.pt"]
    assert torch.equal(torch.load(path)["w"], torch.arange(4))
    (tmp_path / "ckpt" / "best.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        CheckpointManager(tmp_path / "ckpt").load("best")


def test_adam_runs_fused_only_for_large_parameter_sets(monkeypatch):
    # The default (foreach) Adam allocates two parameter-sized temporaries per step; from
    # FUSED_ADAM_MIN_PARAMS parameters on the fused kernel runs instead. Smaller models keep
    # the default kernel (whose last-bit rounding their measured curves were taken with).
    import pyagc.runner.recipe as recipe
    stage = {"name": "train", "lr": 0.01, "weight_decay": 0.0, "optimizer": "adam"}
    small = recipe.make_optimizer([Parameter(torch.zeros(10, 10))], stage)
    assert not small.defaults.get("fused")
    monkeypatch.setattr(recipe, "FUSED_ADAM_MIN_PARAMS", 100)
    params = [Parameter(torch.randn(10, 10)), Parameter(torch.randn(3))]
    reference = [Parameter(p.detach().clone()) for p in params]
    large = recipe.make_optimizer(params, stage)
    assert large.defaults.get("fused") is True
    plain = torch.optim.Adam(reference, lr=0.01)
    for step in range(5):
        for p, q in zip(params, reference):
            p.grad = torch.full_like(p, float(step + 1))
            q.grad = p.grad.clone()
        large.step()
        plain.step()
    for p, q in zip(params, reference):  # the same update, up to the last bit
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6)
