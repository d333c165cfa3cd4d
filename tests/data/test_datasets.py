import pytest
import torch
from torch_geometric.utils import is_undirected

from pyagc.data import get_dataset


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
