import shutil
import threading

import pytest
import torch
from torch_geometric.utils import is_undirected

from pyagc.data import get_dataset
from pyagc.data.datasets import dataset_lock
from tests.conftest import SHARED_DATASETS


def test_cora_figures(cora):
    x, edge_index, y = cora
    assert x.shape == (2708, 1433)
    assert edge_index.shape == (2, 10556) and is_undirected(edge_index)
    assert y.shape == (2708,) and y.dtype == torch.long and int(y.max()) + 1 == 7
    assert torch.allclose(x.sum(1), torch.ones(2708))  # row-normalised bag of words


def test_names_are_case_insensitive_and_citeseer_loads(dataset_root):
    x, edge_index, y = get_dataset("citeseer", dataset_root)
    assert x.shape == (3327, 3703) and edge_index.size(1) == 9104 and int(y.max()) + 1 == 6
    x2, _, _ = get_dataset("CITESEER", dataset_root)
    assert torch.equal(x, x2)


def test_unknown_name_lists_the_choices(tmp_path):
    with pytest.raises(ValueError, match="Available: .*Cora"):
        get_dataset("Coraa", str(tmp_path))


def test_missing_files_without_network_say_where(tmp_path, monkeypatch):
    import urllib.request

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "PubMed")):
        get_dataset("PubMed", str(tmp_path))


def test_raw_features_are_the_stored_bag_of_words(dataset_root, cora):
    x_raw, edge_index, y = get_dataset("Cora", dataset_root, normalize_features=False)
    x_norm = cora[0]
    assert x_raw.dtype == torch.float32 and x_raw.shape == x_norm.shape
    assert set(x_raw.unique().tolist()) == {0.0, 1.0}
    assert not torch.allclose(x_raw.sum(1), torch.ones(2708))
    # The default is the row-normalised version of the same matrix; graph and labels unchanged.
    assert torch.allclose(x_norm, x_raw / x_raw.sum(1, keepdim=True))
    assert torch.equal(edge_index, cora[1]) and torch.equal(y, cora[2])
    with pytest.raises(TypeError, match="normalize_features"):
        get_dataset("Cora", dataset_root, normalize_features="no")


@pytest.fixture
def fresh_cora_root(tmp_path):
    if not (SHARED_DATASETS / "Cora" / "raw").is_dir():
        pytest.skip(f"Planetoid raw files not found under {SHARED_DATASETS}")
    shutil.copytree(SHARED_DATASETS / "Cora" / "raw", tmp_path / "Cora" / "raw")
    return tmp_path


def test_a_second_process_waits_while_the_dataset_is_processed(fresh_cora_root):
    # Ranks of a torchrun job load the same dataset at once; PyG's processed/ files must not be
    # written by two of them together. The lock is held here; a loader must wait for it.
    done = threading.Event()
    loader = threading.Thread(target=lambda: (get_dataset("Cora", str(fresh_cora_root)),
                                              done.set()))
    with dataset_lock(str(fresh_cora_root / "Cora")):
        loader.start()
        assert not done.wait(1.0)
        assert not (fresh_cora_root / "Cora" / "processed").exists()
    loader.join(60)
    assert done.is_set() and (fresh_cora_root / "Cora" / "processed").is_dir()


def test_damaged_processed_files_say_what_to_delete(fresh_cora_root):
    get_dataset("Cora", str(fresh_cora_root))
    processed = fresh_cora_root / "Cora" / "processed"
    for path in processed.glob("*.pt"):
        path.write_bytes(b"truncated")
    with pytest.raises(OSError, match="delete .*processed"):
        get_dataset("Cora", str(fresh_cora_root))
