import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from pyagc.clusters import KMeansClusterHead
from pyagc.data import make_csbm
from pyagc.metrics import label_metrics
from pyagc.models import LossOutput, Node2Vec


@pytest.fixture(scope="module")
def graph():
    return make_csbm(300, 2, avg_degree=10, homophily=0.95, num_features=4, seed=0)


def test_sample_shapes_and_walks_follow_edges(graph):
    model = Node2Vec(graph.edge_index, 8, walk_length=5, context_size=3, walks_per_node=2,
                     num_negative_samples=3, num_nodes=300, seed=0)
    batch = torch.arange(10)
    pos, neg = model.sample(batch)
    assert pos.shape == (10 * 2 * (5 + 2 - 3), 3)
    assert neg.shape == (10 * 2 * 3 * (5 + 2 - 3), 3)
    edges = set(map(tuple, graph.edge_index.t().tolist()))
    assert all((a, b) in edges for a, b in zip(pos[:, 0].tolist(), pos[:, 1].tolist()))
    assert set(pos[::4, 0].tolist()) <= set(batch.tolist())
    assert set(neg[::4, 0].tolist()) <= set(batch.tolist())


def test_seeded_sampling_is_reproducible(graph):
    a = Node2Vec(graph.edge_index, 4, 4, 3, num_nodes=300, seed=3).sample([1, 2, 3])
    b = Node2Vec(graph.edge_index, 4, 4, 3, num_nodes=300, seed=3).sample([1, 2, 3])
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_loss_matches_manual_formula(graph):
    model = Node2Vec(graph.edge_index, 6, 4, 3, num_nodes=300, seed=0)
    pos, neg = model.sample(torch.arange(5))
    out = model.loss(pos, neg)
    assert isinstance(out, LossOutput)
    w = model.embedding.weight.detach()

    def term(rw, sign):
        scores = (w[rw[:, :1]] * w[rw[:, 1:]]).sum(-1)
        return -torch.log(torch.sigmoid(sign * scores)).mean()

    torch.testing.assert_close(out.total.detach(), term(pos, 1) + term(neg, -1))
    assert set(out.components) == {"pos", "neg"}


def test_embed_and_infer_full(graph):
    model = Node2Vec(graph.edge_index, 5, 3, 2, num_nodes=300)
    assert model.embed().shape == (300, 5)
    idx = torch.tensor([4, 7])
    assert torch.equal(model.embed(idx), model.embedding.weight.detach()[idx])
    assert torch.equal(model.infer_full(Data(edge_index=graph.edge_index, num_nodes=300)),
                       model.embed())


def test_errors(graph):
    with pytest.raises(ValueError, match="context_size"):
        Node2Vec(graph.edge_index, 4, walk_length=3, context_size=5)
    with pytest.raises(ValueError, match="p must"):
        Node2Vec(graph.edge_index, 4, 3, 2, p=0.0)
    with pytest.raises(ValueError, match="only 10 nodes"):
        Node2Vec(graph.edge_index, 4, 3, 2, num_nodes=10)
    with pytest.raises(ValueError, match="both"):
        Node2Vec(graph.edge_index, 4, 3, 2).loss(pos_rw=torch.zeros(2, 2, dtype=torch.long))


def test_recovers_planted_partition(graph):
    torch.manual_seed(0)
    model = Node2Vec(graph.edge_index, 16, walk_length=8, context_size=4, walks_per_node=5,
                     num_nodes=300, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    loader = model.loader(batch_size=100, shuffle=True,
                          generator=torch.Generator().manual_seed(0))
    first = model.train_epoch(loader, optimizer, 1, verbose=False)
    for epoch in range(2, 7):
        last = model.train_epoch(loader, optimizer, epoch, verbose=False)
    assert last < first
    z = F.normalize(model.embed(), dim=1)
    pred = KMeansClusterHead(2, n_init=3, random_state=0).fit_predict(z)
    assert label_metrics(graph.y, pred, metrics=("NMI",))["NMI"] > 0.9


def test_sparse_embedding_trains_with_sparse_adam(graph):
    model = Node2Vec(graph.edge_index, 4, 3, 2, num_nodes=300, sparse=True, seed=0)
    optimizer = torch.optim.SparseAdam(list(model.parameters()), lr=0.01)
    before = model.embedding.weight.detach().clone()
    model.train_epoch(model.loader(batch_size=100), optimizer, 1, verbose=False)
    assert not torch.equal(before, model.embedding.weight.detach())
    full = model.train_full(Data(edge_index=graph.edge_index, num_nodes=300), optimizer, 2,
                            verbose=False)
    assert full > 0
