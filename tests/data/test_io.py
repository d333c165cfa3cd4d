import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch_geometric.data import Data

from pyagc.data import load_graph, validate_graph


def test_csv_edges_with_header_npy_features_and_labels(tmp_path):
    (tmp_path / "edges.csv").write_text("src,dst\n0,1\n1,2\n2,0\n2,0\n")
    np.save(tmp_path / "x.npy", np.eye(4, dtype=np.float32))
    np.save(tmp_path / "y.npy", np.array([0, 0, 1, -1]))
    data = load_graph(tmp_path / "edges.csv", tmp_path / "x.npy", tmp_path / "y.npy")
    assert data.num_nodes == 4  # node 3 is isolated but kept (it has features)
    assert data.edge_index.size(1) == 6  # 3 undirected edges, duplicate merged
    assert data.y.tolist() == [0, 0, 1, -1]


def test_tsv_weights_and_sparse_npz_features(tmp_path):
    (tmp_path / "edges.tsv").write_text("0\t1\t2.5\n1\t2\t1.0\n")
    sp.save_npz(tmp_path / "x.npz", sp.csr_matrix(np.arange(6, dtype=np.float32).reshape(3, 2)))
    data = load_graph(str(tmp_path / "edges.tsv"), str(tmp_path / "x.npz"), undirected=False)
    assert data.edge_index.tolist() == [[0, 1], [1, 2]]
    assert data.edge_weight.tolist() == [2.5, 1.0]
    assert data.x.tolist() == [[0, 1], [2, 3], [4, 5]]


def test_arrays_in_both_layouts_and_scipy_features():
    pyg_layout = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    a = load_graph(pyg_layout, sp.eye(4, format="csr"))
    b = load_graph(pyg_layout.t().numpy(), np.eye(4))
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.x, b.x)


def test_from_pyg_data_and_networkx():
    data = load_graph(Data(x=torch.ones(3, 2), edge_index=torch.tensor([[0], [1]])))
    assert data.num_nodes == 3 and data.edge_index.size(1) == 2
    graph = nx.Graph()
    graph.add_node("a", x=[1.0, 0.0], y=0)
    graph.add_node("b", x=[0.0, 1.0], y=1)
    graph.add_node("c", x=[1.0, 1.0], y=1)
    graph.add_edge("a", "b")
    graph.add_edge("b", "c")
    data = load_graph(graph)
    assert data.x.shape == (3, 2) and data.y.tolist() == [0, 1, 1]
    assert data.edge_index.size(1) == 4


def test_self_loops_kept_unless_asked(tmp_path):
    edges = np.array([[0, 0], [0, 1]])
    assert load_graph(edges, num_nodes=2).edge_index.size(1) == 3
    assert load_graph(edges, num_nodes=2, drop_self_loops=True).edge_index.size(1) == 2


@pytest.mark.parametrize("edges, kwargs, message", [
    (np.array([[0, 1], [1, -2]]), {}, "negative node id"),
    (np.array([[0, 1], [1, 5]]), dict(features=np.ones((3, 2))), "refers to node 5"),
    (np.array([[0, 1, 2, 3]]), {}, "shape"),
    (np.array([[0.5, 1.0], [1.0, 2.0]]), {}, "non-integer"),
    (np.array([[0, 1]]), dict(features=np.array([[np.nan, 1.0], [0.0, 1.0]])), "NaN"),
    (np.array([[0, 1]]), dict(features=np.ones((2, 2)), labels=[0, 1, 1]), "3 labels"),
    (np.array([[0, 1]]), dict(features=np.ones(2)), "shape"),
    (np.zeros((0, 2), dtype=np.int64), {}, "empty"),
])
def test_malformed_inputs_raise_one_clear_error(edges, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_graph(edges, **kwargs)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_graph(tmp_path / "nope.csv")


def test_validate_graph_checks_edge_weight():
    data = Data(x=torch.ones(2, 1), edge_index=torch.tensor([[0, 1], [1, 0]]),
                edge_weight=torch.tensor([1.0]))
    with pytest.raises(ValueError, match="edge_weight"):
        validate_graph(data)


def test_sparse_feature_tensors_of_any_layout_are_accepted():
    dense = torch.eye(3)
    for sparse in (dense.to_sparse(), dense.to_sparse_csr()):
        data = load_graph(torch.tensor([[0, 1], [1, 2]]), sparse)
        assert torch.equal(data.x, dense)
