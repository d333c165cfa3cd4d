"""The runner does no work twice: deterministic embeddings are computed once per experiment,
a joint model is encoded once per inference, and each check lives in one place."""
import pytest
import torch

from pyagc.data import make_csbm
from pyagc.runner import get_method, run_experiment, run_once
from pyagc.runner.experiment import EmbeddingCache, reuses_embedding
from pyagc.runner.report import run_table


@pytest.fixture(scope="module")
def noisy():
    # Weak signal and a single KMeans init: the clustering depends on the KMeans seed.
    return make_csbm(300, 4, avg_degree=4.0, homophily=0.5, num_features=16,
                     feature_signal=0.15, seed=7)


def _count_calls(monkeypatch, cls, name):
    calls = []
    original = getattr(cls, name)

    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)
    monkeypatch.setattr(cls, name, counted)
    return calls


def test_deterministic_method_embeds_once_and_reclusters_per_seed(noisy, monkeypatch):
    cls = get_method("SSGC")
    calls = _count_calls(monkeypatch, cls, "embed")
    result = run_experiment("SSGC", data=noisy, runs=3, seed=5, verbose=False,
                            overrides={"cluster.n_init": 1})
    assert len(calls) == 1
    assert [r.get("embedding_from") for r in result.records] == [None, 0, 0]
    # Each run equals a fresh, independent run with its own seed (KMeans seed included).
    fresh = [run_once(cls, noisy, result.config, run=i, seed=5 + i, verbose=False)
             for i in range(3)]
    assert len(calls) == 4
    for record, own in zip(result.records, fresh):
        assert record["metrics"] == pytest.approx(own.metrics)
    assert torch.equal(result.last.labels, fresh[-1].labels)
    assert len({round(r["metrics"]["NMI"], 9) for r in result.records}) > 1
    # Reused runs report the embedding run's train/inference times, and the table says so.
    times = [r["times"] for r in result.records]
    assert times[1]["inference"] == times[0]["inference"] == times[2]["inference"]
    assert "reused the deterministic embedding of run 0" in run_table(result)


def test_seeded_or_trained_methods_recompute_every_run():
    config = {"model": {}}
    assert reuses_embedding(get_method("SSGC"), config)
    assert not reuses_embedding(get_method("SAGSC"), config)      # seeded SVD per run
    assert reuses_embedding(get_method("SAGSC"), {"model": {"seed": 3}})
    assert not reuses_embedding(get_method("GAE"), config)
    assert not reuses_embedding(get_method("DMoN"), config)
    with pytest.raises(ValueError, match="cannot share one"):
        run_once(get_method("GAE"), make_csbm(50, 2, seed=0), {"model": {}, "cluster": {
            "n_clusters": 2}}, embedding_cache=EmbeddingCache())


def test_joint_model_encodes_once_per_inference(noisy):
    encoder_calls = []
    at_end_of_training = []

    class CountedDMoN(get_method("DMoN")):
        @classmethod
        def from_config(cls, cfg, data, n_clusters, *, seed=None):
            model = super().from_config(cfg, data, n_clusters, seed=seed)
            model.encoder.register_forward_hook(lambda *_: encoder_calls.append(1))
            return model
    counted = CountedDMoN
    config = run_experiment("DMoN", data=noisy, verbose=False,
                            overrides={"train.epochs": 2}).config
    result = run_once(counted, noisy, config, verbose=False, keep_embedding=True,
                      callbacks=[lambda stage, epoch, loss:
                                 at_end_of_training.append(len(encoder_calls))])
    assert len(encoder_calls) - at_end_of_training[-1] == 1
    # The one pass gives the same embedding and labels as the model's own embed/forward.
    model = result.model.eval()
    with torch.no_grad():
        inputs = model._inputs(noisy)
        assert torch.allclose(result.embedding, model.embed(**inputs))
        assert torch.equal(result.labels, model(**inputs).cpu())


def test_full_graph_step_methods_refuse_mini_batch_once_up_front(noisy):
    with pytest.raises(ValueError, match="does not support --mini-batch"):
        run_experiment("ARGA", data=noisy, mini_batch=True, verbose=False)
