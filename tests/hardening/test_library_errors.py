"""Class 2 of the hardening issue: inputs that used to fail deep inside torch, numpy or PyYAML
with their message (or a traceback). They now either work (float64 features, NumPy arrays) or
end in one pyagc error that names the problem, the file and the fix."""
import os
import pickle

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

import pyagc
from pyagc.data import load_graph, make_csbm

from _hardening_helpers import one_error_line


@pytest.fixture(scope="module")
def graph():
    return make_csbm(60, 3, avg_degree=4.0, num_features=8, seed=0)


TRAIN = dict(epochs=2, hidden_channels=8)


@pytest.mark.parametrize("method", ["GAE", "DGI", "DMoN"])
def test_float64_features_simply_work(graph, method):
    # They used to fail in a PyG linear layer ("expected m1 and m2 to have the same dtype").
    x64 = graph.x.double()
    reference = pyagc.cluster(graph, method=method, n_clusters=3, **TRAIN)
    for data in (Data(x=x64, edge_index=graph.edge_index, y=graph.y),
                 (x64, graph.edge_index, graph.y), (x64.numpy(), graph.edge_index.numpy())):
        result = pyagc.cluster(data, method=method, n_clusters=3, **TRAIN)
        assert result.embedding.dtype == torch.float32
        # cast at the boundary to the parameters' dtype: the same run as float32 input
        assert torch.equal(result.labels, reference.labels)


def test_validate_graph_casts_features_and_weights_to_the_default_dtype(graph):
    from pyagc.data import validate_graph
    out = validate_graph(Data(x=graph.x.double(), edge_index=graph.edge_index,
                              edge_weight=torch.ones(graph.edge_index.size(1),
                                                     dtype=torch.float64)))
    assert out.x.dtype == torch.get_default_dtype() == out.edge_weight.dtype


def test_numpy_arrays_in_the_tuple_work_like_tensors(graph):
    # They used to give numpy's "inhomogeneous shape".
    as_tensors = pyagc.cluster((graph.x, graph.edge_index, graph.y), method="SSGC")
    as_arrays = pyagc.cluster((graph.x.numpy(), graph.edge_index.numpy(), graph.y.numpy()),
                              method="SSGC")
    assert torch.equal(as_tensors.labels, as_arrays.labels)
    assert as_arrays.metrics == as_tensors.metrics


@pytest.mark.parametrize("labels", [
    np.array(["a", "b", "c"] * 20),
    ["a", "b", "c"] * 20,
    np.array([b"a", b"b", b"c"] * 20),
    np.array([{"class": 1}] * 60, dtype=object),
])
def test_class_names_as_labels_say_how_to_map_them(graph, labels):
    # They used to give torch's "can't convert np.ndarray of type numpy.str_".
    for call in (lambda: pyagc.cluster((graph.x, graph.edge_index, labels), method="KMeans"),
                 lambda: load_graph(graph.edge_index, graph.x, labels),
                 lambda: pyagc.cluster(Data(x=graph.x, edge_index=graph.edge_index, y=labels),
                                       method="KMeans")):
        with pytest.raises(TypeError, match=r"y must be a vector of integer class ids.*"
                                            r"np\.unique\(y, return_inverse=True\)"):
            call()


def test_class_names_in_a_networkx_graph_and_ragged_features():
    nx = pytest.importorskip("networkx")
    g = nx.path_graph(4)
    for node in g.nodes:
        g.nodes[node]["y"] = "red" if node % 2 else "blue"
    with pytest.raises(TypeError, match="node attribute 'y'.*strings"):
        load_graph(g)
    with pytest.raises(ValueError, match="ragged"):
        load_graph(np.array([[0, 1], [1, 2]]), [[1.0, 2.0], [3.0], [4.0, 5.0]])
    with pytest.raises(TypeError, match="strings"):
        load_graph(np.array([[0, 1], [1, 2]]), np.array([["a"], ["b"], ["c"]]))
    with pytest.raises(TypeError, match="edge list.*strings"):
        load_graph([["a", "b"], ["b", "c"]])


def test_other_arguments_of_the_wrong_kind_get_pyagcs_message(graph):
    from pyagc.metrics import label_metrics
    with pytest.raises(TypeError, match="overrides must be a mapping"):
        pyagc.cluster(graph, method="KMeans", overrides=["epochs=2"])
    with pytest.raises(TypeError, match="Config file must be a path to a YAML file, got int"):
        pyagc.cluster(graph, method="KMeans", config=5)
    with pytest.raises(TypeError, match="y_true must be a 1-D vector of integer ids, got an "
                                        "array of strings"):
        label_metrics(["a", "b"], [0, 1])


@pytest.mark.parametrize("value", ["three", "3", [3], 3.0])
def test_a_cluster_count_that_is_not_an_integer_gets_pyagcs_message(graph, value):
    # 'three' used to give int()'s "invalid literal for int() with base 10".
    with pytest.raises(ValueError, match=r"n_clusters must be an integer >= 1, got "):
        pyagc.cluster(graph, method="KMeans", n_clusters=value)


def _write(path, kind):
    """Files that are not what their extension says."""
    if kind == "pickled .npy":
        np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    elif kind == "pickled .npz":
        np.savez(path, a=np.array([{"a": 1}], dtype=object))
    elif kind == "pickle named .npy":
        path.write_bytes(pickle.dumps([[0, 1], [1, 2]]))
    elif kind == "text named .npy":
        path.write_text("0,1\n1,2\n")
    elif kind == "text named .npz":
        path.write_text("0,1\n1,2\n")
    elif kind == "binary named .csv":
        path.write_bytes(bytes(range(256)) * 4)
    elif kind == "strings in .npy":
        np.save(path, np.array([["a", "b"], ["b", "c"]]))
    elif kind == "huge shape in a tiny .npy":
        with open(path, "wb") as handle:
            np.lib.format.write_array_header_1_0(
                handle, {"descr": "<f8", "fortran_order": False, "shape": (10 ** 12, 2)})
            handle.write(b"\0" * 64)
    elif kind == "truncated .npy":
        np.save(path, np.zeros((100, 2)))
        path.write_bytes(path.read_bytes()[:-40])


FILE_CASES = {
    "pickled .npy": ("edges.npy", "pickled Python objects"),
    "pickled .npz": ("edges.npz", "pickled Python objects"),
    "pickle named .npy": ("edges.npy", "pickled Python objects, or is not a NumPy file"),
    "text named .npy": ("edges.npy", "not a NumPy file"),
    "text named .npz": ("edges.npz", "not a NumPy file"),
    "binary named .csv": ("edges.csv", "is not a text file"),
    "strings in .npy": ("edges.npy", "dtype <U1; pyagc reads numbers only"),
    "huge shape in a tiny .npy": ("edges.npy", "larger than this machine's memory"),
    "truncated .npy": ("edges.npy", "could not be read as numbers"),
}


@pytest.mark.parametrize("kind", list(FILE_CASES))
def test_a_file_that_is_not_what_its_extension_says_is_named(tmp_path, kind):
    name, message = FILE_CASES[kind]
    path = tmp_path / name
    _write(path, kind)
    with pytest.raises(ValueError, match=message) as info:
        load_graph(path)
    assert str(path) in str(info.value)
    # as features and labels too, with the role named
    with pytest.raises(ValueError, match=f"The features file '{path}'"):
        load_graph(np.array([[0, 1]]), features=path)
    with pytest.raises(ValueError, match=f"The labels file '{path}'"):
        load_graph(np.array([[0, 1]]), features=np.ones((2, 1)), labels=path)


def test_a_folder_given_as_a_graph_file_is_named(tmp_path):
    (tmp_path / "edges.csv").mkdir()
    with pytest.raises(IsADirectoryError, match="edges.csv' is a folder"):
        load_graph(tmp_path / "edges.csv")


# ----------------------------------------------------------------------------- command line
FAST = ["--set", "data.num_nodes=40", "data.n_clusters=2", "-q"]


def test_cli_out_naming_an_existing_file_is_one_error_line(tmp_path, cli):
    (tmp_path / "taken").write_text("my notes")
    one_error_line(*cli("run", "KMeans", *FAST, "--out", "taken"),
                   "is an existing file, not a folder; choose another --out")
    one_error_line(*cli("run", "KMeans", *FAST, "--out", "taken/sub"),
                   "which is an existing file")
    assert (tmp_path / "taken").read_text() == "my notes"
    # predict's -o naming a folder is refused before the run, not after it
    (tmp_path / "labels.csv").mkdir()
    one_error_line(*cli("predict", "KMeans", *FAST, "-k", "2", "-o", "labels.csv"),
                   "--output 'labels.csv' is a folder")


def test_cli_tampered_results_folder_on_resume_is_one_error_line(tmp_path, cli):
    code, err = cli("run", "KMeans", *FAST, "--out", "res")
    assert code == 0, err
    config = tmp_path / "res" / "config.yaml"
    good = config.read_text()
    for tampered, message in [(b"method: [KMeans\n", "is not valid YAML"),
                              (b"\xff\xfe\x00binary", "is not a UTF-8 text file"),
                              (b"a: &x [1]\nb: *x\n", "YAML aliases are not accepted")]:
        config.write_bytes(tampered)
        code, err = cli("run", "KMeans", *FAST, "--out", "res", "--resume")
        one_error_line(code, err, message)
        assert "start afresh with another --out" in err
    config.write_text(good)
    (tmp_path / "res" / "runs" / "run0.json").write_text("[1, 2")
    one_error_line(*cli("run", "KMeans", *FAST, "--out", "res", "--resume"),
                   "is not a run record written by pyagc")


def test_cli_config_file_that_is_not_yaml_text_is_one_error_line(tmp_path, cli):
    (tmp_path / "c.yaml").write_bytes(bytes(range(256)))
    one_error_line(*cli("run", "KMeans", *FAST, "--no-save", "--config", "c.yaml"),
                   "is not a UTF-8 text file")
    (tmp_path / "d.yaml").mkdir()
    one_error_line(*cli("run", "KMeans", *FAST, "--no-save", "--config", "d.yaml"),
                   "does not exist")
    assert not os.path.exists(tmp_path / "pyagc-results")
