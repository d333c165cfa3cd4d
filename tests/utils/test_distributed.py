"""pyagc.utils.distributed in one process (the checks on several processes are in
tests/runner/test_distributed_runner.py, one launch for all)."""
import pytest
import torch

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
    with pytest.raises(ValueError, match="world_size"):
        EpochShardSampler(n, 0, 0)


def test_row_blocks_split_evenly():
    blocks = [row_block(10, r, 3) for r in range(3)]
    assert blocks == [(0, 3), (3, 6), (6, 10)]
    assert row_block(10) == (0, 10)  # one process: every row
    with pytest.raises(ValueError, match="rank"):
        row_block(10, 3, 3)


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


def test_neighbor_loader_shards_the_seeds_of_every_epoch():
    from pyagc.sampling import neighbor_loader
    data = make_csbm(101, 2, seed=0)
    loaders = [neighbor_loader(data, 1, 5, 16, shuffle=True, seed=3, shard=(r, 2))
               for r in range(2)]

    def epoch(loader):
        seeds = [batch.n_id[:batch.batch_size] for batch in loader]
        return len(seeds), torch.cat(seeds).tolist()

    (b0, s0), (b1, s1) = epoch(loaders[0]), epoch(loaders[1])
    assert b0 == b1 == 4 and len(s0) == len(s1) == 51  # ceil(101 / 2) seeds, same batches
    assert set(s0) | set(s1) == set(range(101)) and len(set(s0) & set(s1)) == 1  # 1 padding
    assert epoch(loaders[0])[1] != s0  # the next epoch deals a new permutation
