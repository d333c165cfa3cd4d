"""pyagc.utils.distributed, and the distributed KMeans and structure metrics it carries, in
two gloo processes launched by the test (one process group for all checks)."""
import pytest
import torch

from _distributed_helpers import KMEANS_CASES, blobs, kmeans_and_metrics_worker, run_ranks
from pyagc.clusters import TorchKMeans
from pyagc.data import make_csbm
from pyagc.metrics import structure_metrics
from pyagc.utils.distributed import (DistributedError, EpochShardSampler, all_gather_rows,
                                     all_reduce, init_distributed, row_block)


def test_epoch_shards_are_disjoint_equal_and_reshuffled():
    n, world = 10, 3
    samplers = [EpochShardSampler(n, r, world, seed=5) for r in range(world)]
    first = [list(s) for s in samplers]
    # Equal counts (ceil(10 / 3) = 4), every node covered, only the 2 padding seeds repeated.
    assert [len(s) for s in first] == [4, 4, 4]
    flat = sum(first, [])
    assert sorted(set(flat)) == list(range(n)) and len(flat) - len(set(flat)) == 2
    second = [list(s) for s in samplers]
    assert second != first and sorted(set(sum(second, []))) == list(range(n))
    # The same seed gives the same shards (every rank draws the same permutation).
    assert list(EpochShardSampler(n, 1, world, seed=5)) == first[1]
    with pytest.raises(ValueError, match="rank"):
        EpochShardSampler(n, 3, world)


def test_row_blocks_split_evenly():
    blocks = [row_block(10, r, 3) for r in range(3)]
    assert blocks == [(0, 3), (3, 6), (6, 10)]


def test_single_process_helpers_and_clear_errors(monkeypatch):
    t = torch.arange(4.0)
    assert all_reduce(t) is t and all_gather_rows(t) is t
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(DistributedError, match="torchrun"):
        init_distributed()
    with pytest.raises(DistributedError, match="process group"):
        TorchKMeans(n_clusters=2, distributed=True).fit(torch.randn(10, 2))
    data = make_csbm(50, 2, seed=0)
    with pytest.raises(DistributedError, match="process group"):
        structure_metrics(data.edge_index, torch.zeros(50, dtype=torch.long), distributed=True)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    return run_ranks(kmeans_and_metrics_worker, 2, str(tmp_path_factory.mktemp("gloo")),
                     timeout=90)


@pytest.mark.parametrize("case", sorted(KMEANS_CASES))
def test_distributed_kmeans_equals_single_process(two_ranks, case):
    X = blobs()
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
