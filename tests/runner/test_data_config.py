import pytest
import torch
import yaml

from pyagc.runner import ConfigError, load_data, resolve_config, run_experiment


def test_normalize_features_key_reaches_get_dataset(dataset_root):
    assert resolve_config("SSGC")["data"]["normalize_features"] is True
    config = resolve_config("SSGC", "Cora", overrides=["data.normalize_features=false"])
    assert config["data"]["normalize_features"] is False
    raw, name = load_data("Cora", root=dataset_root, data_cfg=config["data"])
    assert name == "Cora" and set(raw.x.unique().tolist()) == {0.0, 1.0}
    normalised, _ = load_data("Cora", root=dataset_root, data_cfg=resolve_config("SSGC")["data"])
    assert torch.allclose(normalised.x.sum(1), torch.ones(raw.num_nodes))
    with pytest.raises(ConfigError, match="normalize_features must be true or false"):
        resolve_config("SSGC", overrides=["data.normalize_features=maybe"])


def test_recorded_config_keeps_only_the_data_keys_used(dataset_root, tmp_path):
    fast = ["cluster.n_init=1", "cluster.max_iter=3"]
    result = run_experiment("KMeans", dataset="Cora", root=dataset_root, verbose=False,
                            overrides=fast + ["data.normalize_features=false"],
                            out_dir=str(tmp_path / "cora"))
    assert result.config["data"] == {"normalize_features": False}
    with open(tmp_path / "cora" / "config.yaml") as handle:
        assert yaml.safe_load(handle)["data"] == {"normalize_features": False}
    synthetic = run_experiment("KMeans", verbose=False, overrides=fast + ["data.num_nodes=60"])
    assert "normalize_features" not in synthetic.config["data"]
    assert synthetic.config["data"]["num_nodes"] == 60
