import pytest
import torch
from torch import nn
from torch_geometric.data import Data

from _joint_helpers import Encoder, nmi
from pyagc.models import (BaseModel, ClusteringModel, DMoN, LossOutput, MinCut, Neuromap,
                          TrainableModel)
from pyagc.sampling import NeighborLoader
from pyagc.utils import set_seed


def test_loss_output_log_string_matches_the_documented_example():
    out = LossOutput(total=torch.tensor(1.5), components={"ali": 0.8, "nei": 0.5, "spa": 0.2})
    assert out.log_string("Epoch 01: ") == "Epoch 01: Loss: 1.5000, ALI: 0.8000, NEI: 0.5000, SPA: 0.2000"
    assert LossOutput(torch.tensor(2.0), {"a": torch.tensor(0.25)}).components == {"a": 0.25}


class LinearEmbed(TrainableModel):
    """Embeds by a linear map; loss pulls embeddings towards a target (a well-posed problem)."""

    def __init__(self, target=None, components=True):
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.target = target
        self.components = components

    def embed(self, x, edge_index):
        return self.lin(x)

    def loss(self, x, edge_index, scale=1.0):
        mse = ((self.embed(x, edge_index) - self.target) ** 2).mean() * scale
        return LossOutput(mse, {"mse": mse}) if self.components else mse


def toy_graph(n=20):
    gen = torch.Generator().manual_seed(0)
    return Data(x=torch.randn(n, 3, generator=gen), edge_index=torch.tensor([[0, 1], [1, 0]]),
                num_nodes=n)


def test_train_full_decreases_the_loss_and_passes_loss_kwargs():
    torch.manual_seed(0)
    data = toy_graph()
    model = LinearEmbed(target=torch.ones(20, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = [model.train_full(data, opt, epoch=e, verbose=False) for e in range(30)]
    assert losses[-1] < 0.1 * losses[0]
    assert model.train_full(data, opt, epoch=30, verbose=False, scale=0.0) == 0.0


def test_non_finite_loss_raises_and_names_the_epoch():
    model = LinearEmbed(target=torch.full((20, 2), float("nan")), components=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match="epoch 7"):
        model.train_full(toy_graph(), opt, epoch=7, verbose=False)


def batches():
    """Two hand-made mini-batches shaped like NeighborLoader's: seed nodes first."""
    data = toy_graph()
    out = []
    for seeds, extra in (([0, 1, 2], [5, 6]), ([3, 4], [7])):
        n_id = torch.tensor(seeds + extra)
        out.append(Data(x=data.x[n_id], edge_index=torch.tensor([[0], [1]]), n_id=n_id,
                        batch_size=len(seeds), num_nodes=len(n_id)))
    return data, out


def test_train_batch_returns_the_mean_batch_loss():
    _, loader = batches()

    class BatchLoss(LinearEmbed):
        def loss_batch(self, batch):
            return self.embed(batch.x, batch.edge_index)[:batch.batch_size].sum() * 0 + batch.batch_size

    model = BatchLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    assert model.train_batch(loader, opt, epoch=1, verbose=False) == pytest.approx(2.5)


def test_infer_batch_keeps_only_seed_nodes_in_loader_order():
    data, loader = batches()
    model = LinearEmbed()
    full = model.infer_full(data)
    out = model.infer_batch(loader, verbose=False)
    assert out.shape == (5, 2)
    assert torch.allclose(out, full[:5], atol=1e-6)


class ToyJoint(ClusteringModel):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Identity()
        self.cluster_head = CentroidHead(2, 3)

    def embed(self, x, edge_index):
        return self.encoder(x)

    def forward(self, x, edge_index):
        return torch.cdist(self.embed(x, edge_index), self.cluster_head.centers).argmin(1)

    def loss(self, x, edge_index):
        return torch.cdist(self.embed(x, edge_index), self.cluster_head.centers).min(1).values.mean()


class CentroidHead(nn.Module):
    def __init__(self, n_clusters, dim):
        super().__init__()
        self.n_clusters = n_clusters
        self.centers = nn.Parameter(torch.zeros(n_clusters, dim))

    def reset_cluster_centers(self, centers):
        self.centers.data.copy_(centers)


def test_clustering_model_infers_labels_and_initialises_centres_by_kmeans():
    x = torch.cat([torch.zeros(10, 3), torch.ones(10, 3) * 5])
    data = Data(x=x, edge_index=torch.empty(2, 0, dtype=torch.long), num_nodes=20)
    model = ToyJoint()
    centers = model.initialize_cluster_centers(data, num_layers=1, verbose=False)
    assert sorted(centers[:, 0].tolist()) == [0.0, 5.0]
    labels = model.infer_full(data)
    assert labels.shape == (20,) and labels[:10].unique().numel() == 1
    assert labels[0] != labels[-1]
    with pytest.raises(ValueError, match="kmeans"):
        model.initialize_cluster_centers(data, num_layers=1, method="spectral")


def test_base_model_requires_embed():
    with pytest.raises(TypeError):
        BaseModel()


# ---------------------------------------------------------------- joint heads' KMeans start

JOINT = [lambda **kw: DMoN(Encoder(16, 16), 16, 3, **kw),
         lambda **kw: MinCut(Encoder(16, 16), 16, 3, **kw),
         lambda **kw: Neuromap(Encoder(16, 16), 16, 3, **kw)]


def _head(model):
    return [p.detach().clone() for p in model.cluster_head.parameters()]


@pytest.mark.parametrize("make", JOINT)
def test_first_step_starts_the_head_at_the_kmeans_partition(make, easy):
    set_seed(0)
    model = make()
    before = model.infer_full(easy)
    model.loss(easy.x, easy.edge_index)
    started = model.infer_full(easy)
    # The untrained encoder already separates the easy graph: KMeans on it does, a random
    # head does not.
    assert nmi(easy, started) > 0.9 > nmi(easy, before)
    assert bool(model.head_started)
    head = _head(model)
    model.loss(easy.x, easy.edge_index)  # only once
    assert all(torch.equal(a, b) for a, b in zip(head, _head(model)))
    model.reset_parameters()
    assert not bool(model.head_started)


@pytest.mark.parametrize("make", JOINT)
def test_first_batch_starts_the_head_from_its_seeds(make, easy):
    set_seed(0)
    model = make()
    model.prepare(easy)
    batch = next(iter(NeighborLoader(easy, num_neighbors=[-1], batch_size=150, shuffle=True,
                                     seed=0)))
    model.loss_batch(batch)
    assert nmi(easy, model.infer_full(easy)) > 0.9


@pytest.mark.parametrize("make", JOINT)
def test_random_head_init_keeps_the_head(make, easy):
    set_seed(0)
    model = make(head_init="random")
    head = _head(model)
    model.loss(easy.x, easy.edge_index)
    assert all(torch.equal(a, b) for a, b in zip(head, _head(model)))


def test_restored_model_is_not_restarted(easy):
    set_seed(0)
    trained = MinCut(Encoder(16, 16), 16, 3)
    opt = torch.optim.Adam(trained.parameters(), lr=0.01)
    for epoch in range(3):
        trained.train_full(easy, opt, epoch, verbose=False)
    state = trained.state_dict()
    for legacy in (False, True):  # legacy: a checkpoint written before the flag existed
        restored = MinCut(Encoder(16, 16), 16, 3)
        restored.load_state_dict({k: v for k, v in state.items()
                                  if not (legacy and k == "head_started")})
        restored.loss(easy.x, easy.edge_index)
        assert torch.equal(restored.cluster_head.lin.weight, trained.cluster_head.lin.weight)


def test_same_seed_same_start(easy):
    labels = []
    for _ in range(2):
        set_seed(3)
        model = DMoN(Encoder(16, 16), 16, 3)
        model.loss(easy.x, easy.edge_index)
        labels.append(model.infer_full(easy))
    assert torch.equal(labels[0], labels[1])


def test_unknown_head_init_is_refused():
    with pytest.raises(ValueError, match="head_init must be one of"):
        MinCut(Encoder(16, 16), 16, 3, head_init="spectral")
