"""Launch a few gloo processes from a test, with a deadline, and collect what they return."""
from __future__ import annotations

import os
import time
from typing import Any, Callable, List

import torch
import torch.multiprocessing as mp


def _entry(rank: int, fn: Callable, world: int, folder: str, args: tuple) -> None:
    os.environ["PYAGC_DIST_TIMEOUT"] = "20"
    os.environ["PYAGC_TEST_FOLDER"] = folder
    torch.set_num_threads(1)
    from pyagc.utils.distributed import init_distributed, shutdown
    init_distributed(init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world)
    try:
        out = fn(rank, world, *args)
        torch.save(out, os.path.join(folder, f"rank{rank}.pt"))
    finally:
        shutdown()


def run_ranks(fn: Callable, world: int, folder: str, *args: Any, timeout: float = 60.0
              ) -> List[Any]:
    """``fn(rank, world, *args)`` in ``world`` spawned processes joined in one gloo group;
    returns each rank's result. A child that fails fails the call (the others are stopped);
    after ``timeout`` seconds every child still running is killed and the call fails."""
    context = mp.start_processes(_entry, args=(fn, world, folder, args), nprocs=world,
                                 join=False, start_method="spawn")
    deadline = time.monotonic() + timeout
    try:
        while not context.join(timeout=max(0.1, deadline - time.monotonic())):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {world} processes did not finish in {timeout} s")
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
                process.join()
    return [torch.load(os.path.join(folder, f"rank{r}.pt"), weights_only=False)
            for r in range(world)]


# --------------------------------------------------------------------------- workers
def blobs(n: int = 600, d: int = 6, k: int = 4, seed: int = 0) -> torch.Tensor:
    """Overlapping Gaussian blobs: Lloyd needs several passes."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, d, generator=gen) * 2.0
    return centres[torch.arange(n) % k] + torch.randn(n, d, generator=gen)


#: TorchKMeans settings the distributed fit is checked with: restarts on all points, sampled
#: restarts (split between the ranks, then a refinement), random init, no seed given.
KMEANS_CASES = {"full": dict(n_clusters=4, n_init=3, random_state=3, sample_size=None),
                "sampled": dict(n_clusters=4, n_init=5, random_state=7, sample_size=200),
                "random": dict(n_clusters=5, n_init=2, random_state=1, init="random",
                               sample_size=None),
                "large_sample": dict(n_clusters=4, n_init=3, random_state=2, sample_size=1500)}
#: Rows of the blobs per case (600 unless listed): a sample above 1024 rows is gathered
#: rank by rank rather than summed.
KMEANS_ROWS = {"large_sample": 3000}


def two_rank_worker(rank: int, world: int) -> dict:
    """Everything checked on 2 ranks, in one process group (each launch costs the imports):
    distributed KMeans on this rank's row block, structure metrics on its edge share,
    :func:`runner_worker`, and last a collective after the other rank has gone (rank 1
    leaves; rank 0 must get an error)."""
    from pyagc.clusters import TorchKMeans
    from pyagc.data import make_csbm
    from pyagc.metrics import structure_metrics
    from pyagc.utils.distributed import DistributedError, all_reduce, row_block
    out = {}
    for name, kwargs in KMEANS_CASES.items():
        X = blobs(KMEANS_ROWS.get(name, 600))
        start, end = row_block(X.size(0))
        km = TorchKMeans(distributed=True, **kwargs).fit(X[start:end])
        out[name] = (km.cluster_centers_, km.labels_, km.inertia_, km.n_iter_)
    X = blobs()
    start, end = row_block(X.size(0))
    torch.manual_seed(rank)  # a seed not given: drawn on rank 0 and broadcast
    km = TorchKMeans(n_clusters=3, n_init=1, distributed=True).fit(X[start:end])
    out["unseeded"] = km.cluster_centers_
    data = make_csbm(300, 3, avg_degree=6.0, seed=0)
    labels = torch.arange(300) % 4
    mine = (data.edge_index[0] >= 300 * rank // world) & \
        (data.edge_index[0] < 300 * (rank + 1) // world)
    out["metrics"] = structure_metrics(data.edge_index[:, mine], labels, distributed=True)
    try:
        structure_metrics(data.edge_index[:, mine], (labels + rank) % 4, distributed=True)
    except DistributedError as err:
        out["mismatch"] = str(err)
    out.update(runner_worker(rank, world))
    if rank == 1:
        torch.save(out, os.path.join(os.environ["PYAGC_TEST_FOLDER"], "rank1.pt"))
        os._exit(0)  # leaves without a word: rank 0's next collective must fail, not hang
    t0 = time.monotonic()
    try:
        all_reduce(torch.ones(1), what="after rank 1 left")
    except DistributedError as err:
        out["dead"] = (str(err), time.monotonic() - t0)
    return out


#: Small, quick settings of one decoupled and one joint method (several batches per rank).
RUNNER_CASES = {
    "DGI": ["train.epochs=15", "train.batch_size=100", "train.lr=0.005",
            "model.encoder.hidden_channels=32"],
    "DMoN": ["train.epochs=40", "train.batch_size=100", "train.lr=0.01",
             "model.encoder.dropout=0.0"],
}


def runner_graph():
    from pyagc.data import make_csbm
    return make_csbm(400, 3, avg_degree=10.0, homophily=0.9, num_features=16,
                     feature_signal=1.0, seed=0)


def runner_worker(rank: int, world: int) -> dict:
    """Distributed runs of the runner: each method once, a refused method, and a run
    interrupted after epoch 2 and resumed from rank 0's checkpoint."""
    from pyagc.runner import run_experiment
    from pyagc.utils.distributed import all_reduce
    data = runner_graph()
    out = {}
    for method, overrides in RUNNER_CASES.items():
        res = run_experiment(method, data=data, overrides=overrides, mini_batch=True,
                             distributed=True, verbose=False, seed=0)
        weights = torch.cat([p.detach().flatten() for p in res.last.model.parameters()])
        shape = None if res.last.embedding is None else tuple(res.last.embedding.shape)
        out[method] = (res.records[0]["metrics"], res.last.labels, res.last.history, weights,
                       shape)
    res = run_experiment("SSGC", data=data, distributed=True, verbose=False, seed=0, runs=2)
    out["SSGC"] = res.last.labels  # no training: each rank embeds, the KMeans is split
    try:
        run_experiment("DAEGC", data=data, mini_batch=True, distributed=True, verbose=False)
    except ValueError as err:
        out["refused"] = str(err)

    def stop_after_epoch_2(stage: str, epoch: int, loss: float) -> None:
        if epoch == 2:
            raise KeyboardInterrupt

    folder = os.path.join(os.environ["PYAGC_TEST_FOLDER"], "results")
    try:
        run_experiment("DGI", data=data, overrides=RUNNER_CASES["DGI"], mini_batch=True,
                       distributed=True, verbose=False, out_dir=folder,
                       callbacks=[stop_after_epoch_2])
    except KeyboardInterrupt:
        # A new torchrun job in real use; here a barrier so that rank 0 has written.
        all_reduce(torch.zeros(1), what="barrier")
        out["interrupted"] = sorted(os.listdir(os.path.join(folder, "checkpoints", "run0")))
    res = run_experiment("DGI", data=data, overrides=RUNNER_CASES["DGI"], mini_batch=True,
                         distributed=True, verbose=False, out_dir=folder, resume=True)
    out["resumed"] = (res.out_dir, res.last.history, res.records[0]["metrics"])
    return out
