import os
import shutil
from pathlib import Path

import pytest

SHARED_DATASETS = Path(os.environ.get(
    "PYAGC_SHARED_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))


@pytest.fixture(scope="session")
def dataset_root(tmp_path_factory):
    """A writable copy of ../shared/datasets (PyG writes processed/ files beside raw/)."""
    if not (SHARED_DATASETS / "Cora" / "raw").is_dir():
        pytest.skip(f"Planetoid raw files not found under {SHARED_DATASETS}")
    root = tmp_path_factory.mktemp("datasets")
    for name in ("Cora", "CiteSeer"):
        shutil.copytree(SHARED_DATASETS / name / "raw", root / name / "raw")
    return str(root)


@pytest.fixture(scope="session")
def cora(dataset_root):
    from pyagc.data import get_dataset
    return get_dataset("Cora", dataset_root)


def dense_normalized_adjacency(edge_index, n, weight=None, self_loops=True, r=0.5):
    """Dense reference D^{r-1} M D^{-r}: M[i, j] = weight of edge j -> i (PyG's flow), plus a
    self-loop of weight 1 on every node that has none; zero rows/columns for degree 0."""
    import torch
    m = torch.zeros(n, n, dtype=torch.float64)
    w = torch.ones(edge_index.size(1), dtype=torch.float64) if weight is None else weight.double()
    m.index_put_((edge_index[1], edge_index[0]), w, accumulate=True)
    if self_loops:
        has_loop = torch.zeros(n, dtype=torch.bool)
        has_loop[edge_index[0][edge_index[0] == edge_index[1]]] = True
        m += torch.diag((~has_loop).double())
    deg = m.sum(1)
    safe = torch.where(deg > 0, deg, torch.ones_like(deg))
    left = torch.where(deg > 0, safe ** (r - 1), torch.zeros_like(deg))
    right = torch.where(deg > 0, safe ** (-r), torch.zeros_like(deg))
    return left[:, None] * m * right[None, :]


@pytest.fixture(scope="session")
def dense_adjacency():
    """The dense normalised-adjacency reference the operator and filter tests compare with."""
    return dense_normalized_adjacency


def pytest_configure(config):
    # The test graphs are tiny: a second OpenMP thread only spin-waits, and under pytest-xdist
    # (one process per core) two threads per worker oversubscribe the cores and thrash.
    import torch
    torch.set_num_threads(1)
