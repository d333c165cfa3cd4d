import pytest
import torch
import torch.nn.functional as F

from pyagc.clusters import KMeansClusterHead
from pyagc.data import make_csbm
from pyagc.metrics import label_metrics
from pyagc.models import MS2CAG, S2CAG
from pyagc.models.s2cag import normalized_smoothed_representation, snem_rounding
from pyagc.ops import normalized_adjacency


def dense_nsr(data, T, alpha):
    x = F.normalize(data.x.double(), dim=1)
    s = normalized_adjacency(data.edge_index, data.num_nodes, dtype=torch.float64).to_dense()
    w = torch.tensor([alpha ** t for t in range(T + 1)], dtype=torch.float64)
    w = w / w.sum()
    return sum(w[t] * torch.linalg.matrix_power(s, t) @ x for t in range(T + 1))


@pytest.fixture(scope="module")
def data():
    return make_csbm(150, 3, avg_degree=8, num_features=12, seed=0)


def test_nsr_matches_dense(data):
    z = normalized_smoothed_representation(data.x.double(), data.edge_index, 4, 1.2)
    torch.testing.assert_close(z, dense_nsr(data, 4, 1.2))


def test_s2cag_embedding_is_nsr_singular_subspace(data):
    model = S2CAG(3, T=4, alpha=0.9, tau=10)
    z = model.embed(data.x.double(), data.edge_index)
    u = torch.linalg.svd(dense_nsr(data, 4, 0.9), full_matrices=False)[0][:, 1:4]
    assert z.shape == (150, 3)
    torch.testing.assert_close(z @ z.T, u @ u.T, atol=1e-6, rtol=0)


def test_ms2cag_embedding_is_modularity_eigenspace(data):
    model = MS2CAG(3, T=4, alpha=1.2, gamma=1.0, tau=100)
    q = model.embed(data.x.double(), data.edge_index)
    z = dense_nsr(data, 4, 1.2)
    z = z * z.sum(1).clamp_min(0).sqrt()[:, None]
    w = z @ z.T
    deg = w.sum(1)
    b = w - torch.outer(deg, deg) / deg.sum()               # dense N x N only in the test
    evals, evecs = torch.linalg.eigh(b)
    ref = evecs[:, -3:]
    torch.testing.assert_close(q @ q.T, ref @ ref.T, atol=1e-5, rtol=0)


def test_ms2cag_wide_features_never_form_an_n_by_n_matrix():
    from torch.overrides import TorchFunctionMode

    data = make_csbm(30, 3, avg_degree=6, num_features=45, seed=2)  # d >= N: no QR shortcut
    n = data.num_nodes

    class NoSquare(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if (isinstance(out, torch.Tensor) and out.layout == torch.strided
                    and tuple(out.shape) == (n, n)):
                raise AssertionError(f"{func} formed an N x N matrix")
            return out

    model = MS2CAG(3, T=3, alpha=1.2, gamma=1.0, tau=300)
    with NoSquare():
        q = model.embed(data.x.double(), data.edge_index)
    z = dense_nsr(data, 3, 1.2)
    z = z * z.sum(1).clamp_min(0).sqrt()[:, None]
    w = z @ z.T
    deg = w.sum(1)
    evals, evecs = torch.linalg.eigh(w - torch.outer(deg, deg) / deg.sum())
    ref = evecs[:, -3:]
    torch.testing.assert_close(q @ q.T, ref @ ref.T, atol=1e-5, rtol=0)


def test_snem_rounding_recovers_blocks():
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(90) % 3
    # orthonormal cluster indicators seen through a rotation (as a spectral embedding is)
    skew = torch.randn(3, 3, generator=gen)
    rot = torch.linalg.matrix_exp(0.5 * (skew - skew.T))
    v = F.one_hot(labels, 3).float() / 30 ** 0.5 @ rot + 0.04 * torch.randn(90, 3, generator=gen)
    start = v.argmax(1)
    pred = snem_rounding(v)
    nmi = label_metrics(labels, pred, metrics=("NMI",))["NMI"]
    assert nmi > label_metrics(labels, start, metrics=("NMI",))["NMI"]
    assert torch.equal(snem_rounding(v, n_iter=0), start)
    with pytest.raises(ValueError, match="2-D"):
        snem_rounding(torch.ones(3))


def test_errors(data):
    with pytest.raises(ValueError, match="n_clusters"):
        S2CAG(0)
    with pytest.raises(ValueError, match="alpha"):
        MS2CAG(2, alpha=-1.0)
    with pytest.raises(ValueError, match="exceeds"):
        S2CAG(20).embed(data.x, data.edge_index)


@pytest.mark.parametrize("cls", [S2CAG, MS2CAG])
def test_recovers_planted_partition(cls):
    # bag-of-words features: the NSR affinity assumes non-negative attributes
    data = make_csbm(600, 3, avg_degree=10, homophily=0.9, num_features=30,
                     features="sparse", feature_signal=0.5, seed=5)
    model = cls(3, T=10)
    labels = model(data.x, data.edge_index)                   # SNEM rounding
    assert label_metrics(data.y, labels, metrics=("NMI",))["NMI"] > 0.9
    z = F.normalize(model.embed(data.x, data.edge_index), dim=1)
    pred = KMeansClusterHead(3, n_init=3, random_state=0).fit_predict(z)
    assert label_metrics(data.y, pred, metrics=("NMI",))["NMI"] > 0.9


def test_ms2cag_gram_route_slabs_and_householder_qr_agree(data, monkeypatch):
    import sys
    import pyagc.models.s2cag as s2cag_module
    model = MS2CAG(3, T=4, alpha=1.2, gamma=1.0, tau=100)
    q_gram = model.embed(data.x.double(), data.edge_index)       # N = 150 >= 8 F: Gram route
    monkeypatch.setattr(sys.modules["pyagc.ops.propagate"], "SLAB_BYTES", 256)
    q_slabs = model.embed(data.x.double(), data.edge_index)      # column-slab propagation
    monkeypatch.setattr(s2cag_module, "gram_r_factor", lambda z: None)
    q_qr = model.embed(data.x.double(), data.edge_index)         # Householder QR
    torch.testing.assert_close(q_gram, q_qr, atol=1e-8, rtol=0)
    torch.testing.assert_close(q_slabs, q_gram, atol=1e-8, rtol=0)
