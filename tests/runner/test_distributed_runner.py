"""Two gloo processes launched by the test, one process group for every check (a launch
costs the imports): distributed KMeans equal to single-process KMeans, structure metrics
summed over ranks, the runner's distributed training (a decoupled and a joint method) against
one process, refusals, rank-0 outputs and --resume, and a dead rank's error."""
import os

import pytest
import torch

from _distributed_helpers import (KMEANS_CASES, KMEANS_ROWS, RUNNER_CASES, blobs, run_ranks,
                                  runner_graph, two_rank_worker)
from pyagc.clusters import TorchKMeans
from pyagc.data import make_csbm
from pyagc.metrics import structure_metrics
from pyagc.runner import run_experiment
from pyagc.runner.distributed import check_distributed
from pyagc.runner.registry import get_method


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    return run_ranks(two_rank_worker, 2, str(tmp_path_factory.mktemp("gloo")), timeout=150)


@pytest.mark.parametrize("method", sorted(RUNNER_CASES))
def test_two_processes_match_one_in_quality(two_ranks, method):
    single = run_experiment(method, data=runner_graph(), overrides=RUNNER_CASES[method],
                            mini_batch=True, verbose=False, seed=0).records[0]["metrics"]
    metrics = [out[method][0] for out in two_ranks]
    assert metrics[0] == metrics[1]  # every rank reports the same (gathered) result
    assert single["NMI"] > 0.8 and metrics[0]["NMI"] > 0.8
    assert abs(metrics[0]["NMI"] - single["NMI"]) < 0.1
    # One loss curve: the epoch loss is the mean over the ranks, so early stopping agrees.
    assert two_ranks[0][method][2] == two_ranks[1][method][2]
    assert len(two_ranks[0][method][1]) == runner_graph().num_nodes
    # DistributedDataParallel kept the replicas equal (averaged gradients, same steps).
    assert torch.equal(two_ranks[0][method][3], two_ranks[1][method][3])
    # Inference ran by blocks; the whole embedding is gathered on rank 0 only.
    assert two_ranks[0][method][4][0] == runner_graph().num_nodes
    assert two_ranks[1][method][4] is None


def test_models_that_cannot_be_split_are_refused(two_ranks):
    assert "DAEGC cannot train with --distributed" in two_ranks[0]["refused"]
    assert "train_batch" in two_ranks[0]["refused"]
    with pytest.raises(ValueError, match="--mini-batch"):
        check_distributed(get_method("DGI"), mini_batch=False)
    with pytest.raises(ValueError, match="Node2Vec cannot train with --distributed: it does "
                                         "not train on mini-batches"):
        check_distributed(get_method("Node2Vec"), mini_batch=False)
    check_distributed(get_method("SSGC"), mini_batch=False)  # nothing to train: runs


def test_a_model_without_training_gives_the_single_process_labels(two_ranks):
    # Run 2 (seed 1) reuses run 1's embedding and repeats only the (distributed) KMeans.
    single = run_experiment("SSGC", data=runner_graph(), verbose=False, seed=0,
                            runs=2).last.labels
    assert torch.equal(two_ranks[0]["SSGC"], single) and torch.equal(two_ranks[1]["SSGC"], single)


def test_rank_zero_writes_and_resume_continues(two_ranks):
    assert two_ranks[0]["interrupted"] == ["best.pt", "last.pt"]
    out_dir, history, metrics = two_ranks[0]["resumed"]
    assert os.path.isfile(os.path.join(out_dir, "results.json"))
    assert two_ranks[1]["resumed"][0] is None  # rank 1 has no results folder of its own
    epochs = int(RUNNER_CASES["DGI"][0].split("=")[1])
    assert [h["epoch"] for h in history] == list(range(1, epochs + 1))
    assert two_ranks[1]["resumed"][1] == history and metrics["NMI"] > 0.8


@pytest.mark.parametrize("case", sorted(KMEANS_CASES))
def test_distributed_kmeans_equals_single_process(two_ranks, case):
    X = blobs(KMEANS_ROWS.get(case, 600))
    single = TorchKMeans(**KMEANS_CASES[case]).fit(X)
    for out in two_ranks:
        centers, _, inertia, n_iter = out[case]
        torch.testing.assert_close(centers, single.cluster_centers_, rtol=1e-5, atol=1e-5)
        assert inertia == pytest.approx(single.inertia_, rel=1e-6)
        assert n_iter == single.n_iter_
    labels = torch.cat([out[case][1] for out in two_ranks])
    assert torch.equal(labels, single.labels_)
    if case == "full":
        assert single.n_iter_ > 2  # the check covers several Lloyd steps


def test_unseeded_distributed_kmeans_agrees_between_ranks(two_ranks):
    torch.testing.assert_close(two_ranks[0]["unseeded"], two_ranks[1]["unseeded"])


def test_distributed_structure_metrics_sum_over_edge_shares(two_ranks):
    data = make_csbm(300, 3, avg_degree=6.0, seed=0)
    whole = structure_metrics(data.edge_index, torch.arange(300) % 4)
    for out in two_ranks:
        assert out["metrics"]["Mod"] == pytest.approx(whole["Mod"], abs=1e-12)
        assert out["metrics"]["Cond"] == pytest.approx(whole["Cond"], abs=1e-12)
        assert "same cluster labels" in out["mismatch"]


def test_a_dead_rank_ends_the_collective_with_a_clear_error(two_ranks):
    message, seconds = two_ranks[0]["dead"]
    assert "another process of the job stopped" in message
    assert seconds < 25  # an error within the timeout (20 s here), not a hang


def test_cli_distributed_outside_torchrun_is_one_clear_error(monkeypatch, capsys):
    from pyagc.cli import main
    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["run", "DGI", "--mini-batch", "--distributed", "--no-save", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pyagc: error: --distributed needs the process group") and \
        "torchrun --nproc_per_node" in err
