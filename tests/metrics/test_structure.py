import networkx as nx
import pytest
import torch
from networkx.algorithms.community import modularity as nx_modularity
from torch_geometric.utils import to_undirected

from pyagc.data import make_csbm
from pyagc.metrics import conductance, modularity, structure_metrics


def test_modularity_matches_networkx():
    data = make_csbm(300, 4, avg_degree=6, seed=3)
    clusters = data.y.clone()
    clusters[::7] = (clusters[::7] + 1) % 4  # an imperfect partition
    graph = nx.Graph()
    graph.add_nodes_from(range(data.num_nodes))
    graph.add_edges_from(data.edge_index.t().tolist())
    communities = [set(torch.nonzero(clusters == c).flatten().tolist()) for c in range(4)]
    assert modularity(data.edge_index, clusters) == pytest.approx(
        nx_modularity(graph, communities), abs=1e-10)


def test_conductance_by_hand():
    # Two triangles joined by one edge: each side has cut 1 and volume 7 (of 2m = 14).
    edges = torch.tensor([[0, 1], [1, 2], [0, 2], [3, 4], [4, 5], [3, 5], [2, 3]]).t()
    edge_index = to_undirected(edges)
    clusters = torch.tensor([0, 0, 0, 1, 1, 1])
    assert conductance(edge_index, clusters) == pytest.approx(1 / 7)
    # Modularity by hand: 2 * (6/14 - (7/14)^2).
    assert modularity(edge_index, clusters) == pytest.approx(2 * (6 / 14 - 0.25))
    # One cluster for all: no cut, the denominator is zero -> conductance 0; modularity 0.
    one = torch.zeros(6, dtype=torch.long)
    assert conductance(edge_index, one) == 0.0
    assert modularity(edge_index, one) == pytest.approx(0.0)


def test_long_and_short_names_and_errors():
    edge_index = to_undirected(torch.tensor([[0, 1], [1, 2]]).t())
    clusters = torch.tensor([0, 0, 1])
    short = structure_metrics(edge_index, clusters)
    long = structure_metrics(edge_index, clusters, ("Modularity", "Conductance"))
    assert short == long and set(short) == {"Mod", "Cond"}
    with pytest.raises(ValueError, match="Unknown structure metric"):
        structure_metrics(edge_index, clusters, ("NMI",))
    with pytest.raises(ValueError, match="refers to node"):
        structure_metrics(edge_index, torch.tensor([0, 1]))


def test_isolated_nodes_and_non_contiguous_cluster_ids():
    edge_index = to_undirected(torch.tensor([[0, 1]]).t())
    clusters = torch.tensor([7, 7, 1000])  # node 2 is isolated in its own cluster
    assert modularity(edge_index, clusters) == pytest.approx(1 - 1.0)  # L/2m=1, (d/2m)^2=1
    assert conductance(edge_index, clusters) == 0.0
