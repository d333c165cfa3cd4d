"""Class 1 of the hardening issue: inputs that used to be accepted and gave labels that mean
nothing. Each must now be refused with one clear error, the same one whichever entry point the
graph came through (one validation path: load_graph -> validate_graph)."""
import numpy as np
import pytest
import torch
from torch_geometric.data import Data

import pyagc
from pyagc.clusters import KMeansClusterHead, TorchKMeans
from pyagc.data import load_graph, make_csbm, validate_graph
from pyagc.runner import run_experiment


@pytest.fixture(scope="module")
def graph():
    return make_csbm(60, 3, avg_degree=4.0, num_features=8, seed=0)


def _routes(x, edge_index, y=None, **extra):
    """The same graph through every public entry point that takes one."""
    def data():
        d = Data(x=x, edge_index=edge_index, **extra)
        if y is not None:
            d.y = y
        return d

    def as_tuple():
        return (x, edge_index) if y is None else (x, edge_index, y)

    def as_numpy_tuple():
        return tuple(t.numpy() if isinstance(t, torch.Tensor) else t for t in as_tuple())

    return {
        "cluster(Data)": lambda: pyagc.cluster(data(), method="KMeans", n_clusters=2),
        "cluster(tuple)": lambda: pyagc.cluster(as_tuple(), method="KMeans", n_clusters=2),
        "cluster(numpy tuple)": lambda: pyagc.cluster(as_numpy_tuple(), method="KMeans",
                                                      n_clusters=2),
        "run_experiment(data=tuple)": lambda: run_experiment("KMeans", data=as_tuple(),
                                                             n_clusters=2, verbose=False),
        "load_graph(Data)": lambda: load_graph(data()),
        "validate_graph": lambda: validate_graph(data()),
    }


def _bad_graphs(graph):
    x, ei, y = graph.x, graph.edge_index, graph.y
    weights = torch.ones(1, ei.size(1), dtype=ei.dtype)
    return {
        # the third row used to be read as edge weights through the tuple route
        "three-row edge_index": (dict(x=x, edge_index=torch.cat([ei, weights]), y=y),
                                 ValueError, r"shape \[2, num_edges\].*third row"),
        # zero feature columns used to put every node in one cluster
        "zero feature columns": (dict(x=torch.empty(60, 0), edge_index=ei, y=y),
                                 ValueError, "no feature columns"),
        # complex features used to lose their imaginary part with only a warning
        "complex features": (dict(x=x.to(torch.complex64), edge_index=ei, y=y),
                             TypeError, "real numbers"),
        # infinite labels used to become arbitrary int64 class ids
        "infinite labels": (dict(x=x, edge_index=ei,
                                 y=torch.where(y == 0, float("inf"), y.float())),
                            ValueError, "NaN or infinite labels"),
        "infinite node ids": (dict(x=x, edge_index=torch.cat([ei[:, :-1].float(),
                                                              torch.tensor([[0.0],
                                                                            [float("inf")]])],
                                                             1), y=y),
                              ValueError, "NaN or infinite node ids"),
        "[E, 2] edge_index in a tuple": (dict(x=x, edge_index=ei[:, :4].t().contiguous(), y=y),
                                         ValueError, r"transpose"),
        "negative edge weights": (dict(x=x, edge_index=ei, y=y,
                                       edge_weight=-torch.ones(ei.size(1))),
                                  ValueError, "negative weight"),
    }


@pytest.mark.parametrize("case", ["three-row edge_index", "zero feature columns",
                                  "complex features", "infinite labels", "infinite node ids",
                                  "negative edge weights"])
def test_every_entry_point_refuses_the_same_bad_graph_with_the_same_error(graph, case):
    kwargs, error, message = _bad_graphs(graph)[case]
    extra = {k: v for k, v in kwargs.items() if k not in ("x", "edge_index", "y")}
    routes = _routes(kwargs["x"], kwargs["edge_index"], kwargs["y"], **extra)
    if extra:  # a tuple has no slot for edge weights
        routes = {k: v for k, v in routes.items() if "tuple" not in k}
    messages = set()
    for name, route in routes.items():
        with pytest.raises(error, match=message) as info:
            route()
        messages.add(str(info.value))
    assert len(messages) == 1, messages


def test_an_e_by_2_edge_list_in_a_tuple_is_refused_not_guessed(graph):
    # PyG's layout is [2, E]; (x, edge_index) tuples follow it (load_graph's own array reader
    # is the place for [E, 2] edge lists).
    kwargs, error, message = _bad_graphs(graph)["[E, 2] edge_index in a tuple"]
    with pytest.raises(error, match=message):
        pyagc.cluster((kwargs["x"], kwargs["edge_index"]), method="KMeans", n_clusters=2)
    data = load_graph(graph.edge_index.t().numpy(), graph.x)      # the reader takes [E, 2]
    assert data.num_nodes == 60


def test_zero_feature_columns_are_refused_by_every_reader(tmp_path, graph):
    np.save(tmp_path / "x.npy", np.empty((60, 0), dtype=np.float32))
    for features in (np.empty((60, 0)), torch.empty(60, 0), str(tmp_path / "x.npy")):
        with pytest.raises(ValueError, match="no feature columns"):
            load_graph(graph.edge_index, features)
    for head in (TorchKMeans(n_clusters=2), KMeansClusterHead(2),
                 KMeansClusterHead(2, backend="sklearn")):
        with pytest.raises(ValueError, match="no feature columns"):
            head.fit_predict(torch.empty(10, 0))


@pytest.mark.parametrize("value", [2.5, 2.0, True, "2", None])
def test_non_integer_cluster_counts_are_refused_not_truncated(graph, value):
    makers = {
        "TorchKMeans": lambda: TorchKMeans(n_clusters=value),
        "KMeansClusterHead": lambda: KMeansClusterHead(n_clusters=value),
        "make_csbm": lambda: make_csbm(60, value),
    }
    if value is not None:  # None is "from the labels" in the pipeline
        makers["cluster"] = lambda: pyagc.cluster(graph, method="KMeans", n_clusters=value)
    for name, make in makers.items():
        with pytest.raises(TypeError, match="n_clusters must be an integer") as info:
            make()
        assert isinstance(info.value, ValueError), name   # ScalarTypeError is both


@pytest.mark.parametrize("make, name", [
    (lambda: TorchKMeans(n_init=1.5), "n_init"),
    (lambda: TorchKMeans(max_iter=2.5), "max_iter"),
    (lambda: TorchKMeans(tol="small"), "tol"),
    (lambda: TorchKMeans(random_state=0.5), "random_state"),
    (lambda: KMeansClusterHead(3, n_init=2.5), "n_init"),
    (lambda: KMeansClusterHead(3, random_state="0"), "random_state"),
    (lambda: make_csbm(60.5, 3), "num_nodes"),
    (lambda: make_csbm(60, 3, num_features=8.5), "num_features"),
    (lambda: make_csbm(60, 3, seed=1.5), "seed"),
    (lambda: load_graph(torch.tensor([[0], [1]]), num_nodes=3.5), "num_nodes"),
    (lambda: load_graph(torch.tensor([[0], [1]]), undirected="no"), "undirected"),
    (lambda: run_experiment("KMeans", runs=1.5, verbose=False), "runs"),
    (lambda: run_experiment("KMeans", seed=0.5, verbose=False), "seed"),
    (lambda: run_experiment("KMeans", mini_batch="yes", verbose=False), "mini_batch"),
])
def test_other_scalar_arguments_are_checked_not_coerced(make, name):
    with pytest.raises(TypeError, match=f"^{name} must be"):
        make()


@pytest.mark.parametrize("override, name", [("data.num_nodes=60.5", "num_nodes"),
                                            ("data.seed=0.5", "seed")])
def test_synthetic_graph_settings_are_not_truncated(override, name):
    with pytest.raises(ValueError, match=f"{name} must be an integer"):
        run_experiment("KMeans", overrides=[override], verbose=False)


def test_a_data_objects_own_node_count_keeps_its_isolated_nodes():
    # Nodes 4 and 5 have no edge and there are no features: only num_nodes says they exist.
    data = Data(edge_index=torch.tensor([[0, 1, 2], [1, 2, 3]]), num_nodes=6)
    assert load_graph(data).num_nodes == 6
    result = pyagc.cluster(data, method="Node2Vec", n_clusters=2, epochs=1,
                           walk_length=3, context_size=2, walks_per_node=1)
    assert result.labels.shape == (6,)


def test_cluster_without_a_graph_is_refused_not_given_the_synthetic_default():
    # pyagc.cluster(None) used to cluster the runner's synthetic default graph.
    with pytest.raises(TypeError, match="data is None"):
        pyagc.cluster(None, method="KMeans", n_clusters=2)


def test_infinite_ids_in_metrics_are_refused_not_cast():
    from pyagc.metrics import label_metrics
    with pytest.raises(ValueError, match="integer ids"):
        label_metrics([float("inf"), 1.0, 0.0], [0, 1, 1])
