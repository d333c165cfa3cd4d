import numpy as np
import pytest
import torch

import pyagc
from pyagc.data import make_csbm
from pyagc.metrics import label_metrics
from pyagc.runner import get_method, list_methods, run_experiment
from pyagc.runner.experiment import resolve_n_clusters
from pyagc.runner.report import markdown_summary, run_table


@pytest.fixture(scope="module")
def graph():
    # Features alone separate the blocks only partly; the graph (homophily 0.9) helps.
    return make_csbm(400, 4, avg_degree=10.0, homophily=0.9, num_features=32,
                     feature_signal=0.35, seed=3)


def test_kmeans_baseline_is_kmeans_on_normalised_features(graph):
    from sklearn.cluster import KMeans
    result = pyagc.cluster(graph, method="KMeans")
    x = graph.x / graph.x.norm(dim=1, keepdim=True)
    reference = KMeans(4, n_init=10, random_state=0).fit_predict(x.numpy())
    ours = label_metrics(graph.y, result.labels, ("NMI",))["NMI"]
    theirs = label_metrics(graph.y, reference, ("NMI",))["NMI"]
    assert ours == pytest.approx(theirs, abs=0.05)
    assert type(result.model).__name__ == "KMeans" and torch.allclose(result.embedding, graph.x)


def test_graph_methods_beat_the_feature_baseline_on_a_homophilous_graph(graph):
    base = pyagc.cluster(graph, method="KMeans").metrics["NMI"]
    ssgc = pyagc.cluster(graph, method="SSGC").metrics
    assert ssgc["NMI"] > base + 0.1 and ssgc["NMI"] > 0.6
    gae = pyagc.cluster(graph, method="GAE", epochs=40, hidden_channels=16)
    assert gae.metrics["NMI"] > base
    losses = [h["loss"] for h in gae.loss_history]
    assert len(losses) == 40 and losses[-1] < losses[0]


def test_cluster_api_inputs_and_results(graph):
    labels, embedding = pyagc.cluster((graph.x, graph.edge_index), method="SGC", n_clusters=3,
                                      K=2)
    assert labels.shape == (400,) and int(labels.max()) < 3
    assert embedding.shape == (400, 32)
    same = pyagc.cluster((graph.x, graph.edge_index), method="SGC", n_clusters=3,
                         model={"K": 2})
    assert torch.equal(same.labels, labels)                  # seeded: same call, same labels
    assert "NMI" not in same.metrics and "Mod" in same.metrics  # no labels given
    with pytest.raises(ValueError, match="number of clusters is unknown"):
        pyagc.cluster((graph.x, graph.edge_index), method="SGC")
    with pytest.raises(ValueError, match="Unknown config key"):
        pyagc.cluster(graph, method="SGC", K_hops=3)


@pytest.mark.parametrize("method", ["GAE", "DGI", "DMoN"])
def test_mini_batch_training_runs_through_the_neighbor_loader(graph, method):
    result = run_experiment(method, data=graph, mini_batch=True, verbose=False,
                            overrides={"train.epochs": 2, "train.batch_size": 128,
                                       "train.fan_out": 5, "hidden_channels": 16})
    assert result.config["train"]["mini_batch"] is True
    assert [h["epoch"] for h in result.last.history] == [1, 2]
    assert result.last.labels.shape == (400,)


@pytest.mark.parametrize("method", ["GAE", "DMoN"])
def test_mini_batch_inference_is_layerwise_and_exact(graph, method, monkeypatch):
    from pyagc.encoders import TunedGNN
    batch_sizes = []
    layerwise = TunedGNN.inference

    def spy(self, *args, **kwargs):
        batch_sizes.append(kwargs["batch_size"])
        return layerwise(self, *args, **kwargs)

    monkeypatch.setattr(TunedGNN, "inference", spy)
    overrides = {"train.epochs": 2, "train.batch_size": 128, "train.fan_out": 5,
                 "hidden_channels": 16, "train.layerwise_batch_size": 150}
    run = run_experiment(method, data=graph, mini_batch=True, verbose=False,
                         overrides=overrides).last
    assert batch_sizes and set(batch_sizes) == {150}
    # The embedding is the model's own full-graph embedding.
    assert torch.allclose(run.embedding, run.model.infer_embedding(graph), atol=1e-5)
    # train.layerwise_batch_size: null infers over the neighbour loader instead.
    batch_sizes.clear()
    loader_run = run_experiment(method, data=graph, mini_batch=True, verbose=False,
                                overrides={**overrides, "train.layerwise_batch_size": None})
    assert batch_sizes == [] and loader_run.last.embedding.shape == run.embedding.shape


def test_adversarial_methods_train_both_players(graph):
    result = pyagc.cluster(graph, method="ARGA", epochs=3, hidden_channels=16,
                           discriminator_steps=2)
    model = result.model
    assert len(result.loss_history) == 3 and result.labels.shape == (400,)
    with pytest.raises(ValueError, match="without --mini-batch"):
        pyagc.cluster(graph, method="ARGA", epochs=1, mini_batch=True)
    assert model.discriminator_steps == 2


def test_k_larger_than_nodes_and_unknown_method_fail_clearly(graph):
    with pytest.raises(ValueError, match="larger than the number of nodes"):
        resolve_n_clusters(graph, 401)
    with pytest.raises(ValueError, match="Unknown method 'NoSuchMethod'"):
        get_method("NoSuchMethod")


def test_every_available_method_runs_on_a_tiny_graph():
    tiny = make_csbm(60, 3, num_features=8, seed=0)
    results = []
    for cls in list_methods():
        overrides = {"train.epochs": 2}
        if cls.family.startswith("deep"):
            overrides["hidden_channels"] = 8
        results.append(run_experiment(cls.__name__, data=tiny, verbose=False,
                                      overrides=overrides))
        assert results[-1].last.labels.shape == (60,), cls.__name__
    table = markdown_summary(results)
    assert table.count("\n") == len(results) + 1
    assert "NMI" in run_table(results[0]) and "Peak RSS (MB)" in run_table(results[0])
    assert np.isfinite([r.summary["NMI"]["mean"] for r in results]).all()


def test_cluster_method_selects_the_rounding_and_seeded_models_get_the_run_seed(graph):
    from pyagc.models.s2cag import snem_rounding
    snem = run_experiment("S2CAG", data=graph, verbose=False)
    assert snem.config["cluster"]["method"] == "snem"
    run = snem.last
    assert run.model.seed == 0                        # the run's seed, passed to the model
    assert torch.equal(run.labels, snem_rounding(run.embedding, run.model.snem_iterations))
    kmeans = run_experiment("S2CAG", data=graph, verbose=False, seed=5,
                            overrides=["cluster.method=kmeans"])
    assert kmeans.last.model.seed == 5 and kmeans.last.labels.shape == (400,)
    with pytest.raises(ValueError, match="cluster.method 'spectral' is not available for GAE"):
        run_experiment("GAE", data=graph, verbose=False, overrides=["cluster.method=spectral"])


def test_walk_recipe_trains_node2vec_without_features():
    from torch_geometric.data import Data
    graph = make_csbm(80, 2, homophily=0.95, seed=4)
    no_features = Data(edge_index=graph.edge_index, y=graph.y, num_nodes=80)
    result = run_experiment("Node2Vec", data=no_features, seed=3, verbose=False,
                            overrides={"epochs": 4, "embedding_dim": 16, "batch_size": 32,
                                       "walks_per_node": 2})
    losses = [h["loss"] for h in result.last.history]
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert result.last.model.generator.initial_seed() == 3      # walks seeded by the run
    assert result.last.embedding.shape == (80, 16)
