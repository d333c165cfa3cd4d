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


def pytest_configure(config):
    # The test graphs are tiny: a second OpenMP thread only spin-waits, and under pytest-xdist
    # (one process per core) two threads per worker oversubscribe the cores and thrash.
    import torch
    torch.set_num_threads(1)
