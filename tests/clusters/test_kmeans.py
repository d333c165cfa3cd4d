import pytest
import torch
from sklearn.cluster import KMeans

from pyagc.clusters import KMeansClusterHead, TorchKMeans
from pyagc.metrics import label_metrics


def blobs(n=600, k=4, d=8, spread=0.3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    centers = torch.randn(k, d, generator=gen) * 5
    y = torch.arange(n) % k
    return centers[y] + spread * torch.randn(n, d, generator=gen), y


def test_recovers_separated_blobs():
    X, y = blobs()
    labels = TorchKMeans(n_clusters=4, n_init=3, random_state=0).fit_predict(X)
    assert label_metrics(y, labels, "ACC")["ACC"] == 1.0


def test_inertia_within_one_percent_of_scikit_learn():
    X, _ = blobs(n=2000, k=10, d=16, spread=3.0, seed=1)
    ours = TorchKMeans(n_clusters=10, n_init=5, random_state=0).fit(X)
    ref = KMeans(10, n_init=5, random_state=0).fit(X.double().numpy())
    assert ours.inertia_ <= ref.inertia_ * 1.01
    # inertia_ is what it says: the sum of squared distances to the assigned centre.
    direct = ((X - ours.cluster_centers_[ours.labels_]) ** 2).sum().item()
    assert ours.inertia_ == pytest.approx(direct, rel=1e-4)


def test_same_seed_same_labels_and_restarts_help():
    X, _ = blobs(n=500, k=6, spread=2.5, seed=2)
    a = TorchKMeans(n_clusters=6, n_init=2, random_state=7).fit(X)
    b = TorchKMeans(n_clusters=6, n_init=2, random_state=7).fit(X)
    assert torch.equal(a.labels_, b.labels_) and a.inertia_ == b.inertia_
    many = TorchKMeans(n_clusters=6, n_init=8, random_state=7).fit(X)
    assert many.inertia_ <= a.inertia_ + 1e-6


def test_small_inputs_run_every_restart_on_all_points():
    X, _ = blobs(n=800, k=5, spread=2.0, seed=3)
    exact = TorchKMeans(n_clusters=5, n_init=3, random_state=1, sample_size=None).fit(X)
    for sample_size in ("auto", 800):
        km = TorchKMeans(n_clusters=5, n_init=3, random_state=1, sample_size=sample_size).fit(X)
        assert torch.equal(km.labels_, exact.labels_) and km.inertia_ == exact.inertia_


def test_large_inputs_restart_on_a_sample_and_refine_on_all_points():
    X, _ = blobs(n=6000, k=12, d=16, spread=4.0, seed=5)
    km = TorchKMeans(n_clusters=12, n_init=5, random_state=0, sample_size=600,
                     refine_tol=0).fit(X)
    ref = KMeans(12, n_init=5, random_state=0).fit(X.double().numpy())
    assert km.inertia_ <= ref.inertia_ * 1.01
    # The refinement ran on all points: the labels are the nearest centres of every row, and
    # the centres are the means of their clusters (a Lloyd fixed point on X, not on the sample).
    assert torch.equal(km.labels_, torch.cdist(X, km.cluster_centers_).argmin(1))
    means = torch.stack([X[km.labels_ == c].mean(0) for c in range(12)])
    assert torch.allclose(km.cluster_centers_, means, atol=1e-3)
    again = TorchKMeans(n_clusters=12, n_init=5, random_state=0, sample_size=600,
                        refine_tol=0).fit(X)
    assert torch.equal(again.labels_, km.labels_)


def test_refinement_stops_when_the_inertia_stops_moving():
    # Heavily overlapping clusters: Lloyd on all points creeps on for many passes.
    X, _ = blobs(n=8000, k=20, d=10, spread=6.0, seed=6)
    full = TorchKMeans(n_clusters=20, n_init=3, random_state=0, sample_size=800,
                       refine_tol=0).fit(X)
    quick = TorchKMeans(n_clusters=20, n_init=3, random_state=0, sample_size=800,
                        refine_tol=1e-4).fit(X)
    assert quick.n_iter_ < full.n_iter_ * 0.6
    assert quick.inertia_ <= full.inertia_ * 1.001
    # The reported inertia and labels belong to the returned centres.
    assert torch.equal(quick.labels_, torch.cdist(X, quick.cluster_centers_).argmin(1))
    direct = ((X - quick.cluster_centers_[quick.labels_]) ** 2).sum().item()
    assert quick.inertia_ == pytest.approx(direct, rel=1e-4)
    # Inputs that fit the sample never use the inertia rule: exact as before.
    small = X[:800]
    assert torch.equal(
        TorchKMeans(n_clusters=20, n_init=2, random_state=0, refine_tol=0.5).fit(small).labels_,
        TorchKMeans(n_clusters=20, n_init=2, random_state=0, refine_tol=0).fit(small).labels_)


def test_sample_size_errors():
    with pytest.raises(ValueError, match="sample_size"):
        TorchKMeans(n_clusters=4, sample_size="half")
    with pytest.raises(ValueError, match="sample_size"):
        TorchKMeans(n_clusters=4, sample_size=3)
    with pytest.raises(ValueError, match="refine_tol"):
        TorchKMeans(n_clusters=4, refine_tol=-0.1)
    with pytest.raises(ValueError, match="refine_tol"):
        KMeansClusterHead(n_clusters=4, refine_tol=2)


def test_empty_cluster_is_reseeded():
    # Two far groups; a tensor init puts a third centre far away so it starts empty.
    X = torch.cat([torch.zeros(50, 2), torch.ones(50, 2) * 10, torch.tensor([[10.0, 11.0]])])
    init = torch.tensor([[0.0, 0.0], [10.0, 10.0], [1000.0, 1000.0]])
    km = TorchKMeans(n_clusters=3, init=init, random_state=0).fit(X)
    assert torch.bincount(km.labels_, minlength=3).min() > 0


def test_chunked_assignment_equals_one_shot():
    X, _ = blobs(n=3000, k=3, d=4, spread=1.0, seed=4)
    km = TorchKMeans(n_clusters=3, n_init=1, random_state=0).fit(X)
    one_shot = torch.cdist(X, km.cluster_centers_).argmin(1)
    assert torch.equal(km.predict(X), one_shot)


def test_soft_predict_rows_sum_to_one_and_argmax_matches():
    X, _ = blobs()
    km = TorchKMeans(n_clusters=4, n_init=1, random_state=0).fit(X)
    q = km.predict(X, soft=True)
    assert q.shape == (600, 4)
    assert torch.allclose(q.sum(1), torch.ones(600), atol=1e-5)
    assert torch.equal(q.argmax(1), km.labels_)


def test_input_errors():
    with pytest.raises(ValueError, match="larger than the number of points"):
        TorchKMeans(n_clusters=5).fit(torch.randn(3, 2))
    with pytest.raises(ValueError, match="NaN"):
        TorchKMeans(n_clusters=2).fit(torch.tensor([[0.0, float("nan")], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="2-D"):
        TorchKMeans(n_clusters=2).fit(torch.randn(10))
    with pytest.raises(RuntimeError, match="fit"):
        TorchKMeans(n_clusters=2).predict(torch.randn(4, 2))


@pytest.mark.parametrize("backend", ["torch", "sklearn"])
def test_cluster_head_backends(backend):
    X, y = blobs()
    head = KMeansClusterHead(4, backend=backend, n_init=2, random_state=0)
    labels = head.fit_predict(X)
    assert labels.dtype == torch.long and labels.shape == (600,)
    assert label_metrics(y, labels, "ACC")["ACC"] == 1.0
    assert torch.equal(head.cluster(X), labels)
    assert head.cluster(X, soft=True).shape == (600, 4)
    with pytest.raises(ValueError, match="backend"):
        KMeansClusterHead(4, backend="faiss")


def test_sampled_restarts_stop_once_the_inertia_stalls(monkeypatch):
    g = torch.Generator().manual_seed(0)
    y = torch.randint(10, (6000,), generator=g)
    x = torch.randn(10, 32, generator=g)[y] + 3.0 * torch.randn(6000, 32, generator=g)
    lloyd = TorchKMeans._lloyd
    passes = {}

    def spy(self, X, *args, **kwargs):
        out = lloyd(self, X, *args, **kwargs)
        if X.size(0) == 2000:  # a restart on the sample
            passes.setdefault(self.refine_tol, []).append(out[3])
        return out

    monkeypatch.setattr(TorchKMeans, "_lloyd", spy)
    fits = {tol: TorchKMeans(n_clusters=10, n_init=3, random_state=0, sample_size=2000,
                             refine_tol=tol).fit(x) for tol in (0.0, 1e-3)}
    assert sum(passes[1e-3]) < sum(passes[0.0])
    assert fits[1e-3].inertia_ <= 1.01 * fits[0.0].inertia_
