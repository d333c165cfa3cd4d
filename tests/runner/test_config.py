import pytest
import yaml

from pyagc.runner.config import (ConfigError, apply_overrides, parse_overrides, resolve_config,
                                 training_stages)


def test_method_defaults_and_dataset_override():
    base = resolve_config("SSGC")
    assert base["model"] == {"K": 12, "alpha": 0.05, "cached": False, "add_self_loops": True}
    assert base["cluster"]["n_init"] == 10 and base["cluster"]["normalize_embeddings"] is True
    # Per-dataset entry (matched case-insensitively) overrides the defaults.
    products = resolve_config("SSGC", "OGBN-Products")
    assert products["model"]["K"] == 10 and products["model"]["alpha"] == 0.05


def test_set_overrides_dotted_bare_nested_and_new_keys():
    config = resolve_config("GAE", overrides=["train.lr=1e-3", "epochs=7", "hidden_channels=8",
                                              "+model.encoder.heads=2", "cluster.backend=sklearn"])
    assert config["train"]["lr"] == pytest.approx(1e-3)   # YAML 1.1 would give the string
    assert config["train"]["epochs"] == 7
    assert config["model"]["encoder"]["hidden_channels"] == 8
    assert config["model"]["encoder"]["heads"] == 2
    assert config["cluster"]["backend"] == "sklearn"


@pytest.mark.parametrize("item, message", [
    ("train.epoch=5", "Unknown config key 'train.epoch'"),
    ("nonsense=1", "Unknown config key 'nonsense'"),
    ("epochs", "expects key=value"),
    ("train=3", "is a section"),
    ("train.epochs=-1", "train.epochs must be an integer >= 0"),
    ("train.lr=0", "train.lr must be a number > 0, got 0"),
    ("cluster.n_init=true", "cluster.n_init must be an integer >= 1, got True of type bool"),
    ("cluster.backend=gpu", "cluster.backend must be"),
    ("cluster.sample_size=half", "cluster.sample_size must be 'auto', null or an integer"),
    ("cluster.sample_size=0", "cluster.sample_size must be 'auto', null or an integer"),
    ("cluster.refine_tol=-1", "cluster.refine_tol"),
])
def test_bad_overrides_raise_one_clear_error(item, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config("GAE", overrides=[item])


def test_ambiguous_bare_key_is_refused():
    config = {"model": {"lr": 1}, "train": {"lr": 2}, "cluster": {}, "data": {}}
    with pytest.raises(ConfigError, match="ambiguous"):
        apply_overrides(config, ["lr=3"])
    assert apply_overrides(config, ["train.lr=3"])["train"]["lr"] == 3


def test_config_file_layer_and_its_dataset_entry(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"train": {"epochs": 3},
                                    "datasets": {"cora": {"train": {"lr": 0.5}}}}))
    config = resolve_config("GAE", "Cora", config_file=path)
    assert config["train"]["epochs"] == 3 and config["train"]["lr"] == 0.5
    assert resolve_config("GAE", "CiteSeer", config_file=path)["train"]["lr"] == 0.01
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  lr: 1\n")
    with pytest.raises(ConfigError, match="Unknown config section"):
        resolve_config("GAE", config_file=bad)
    with pytest.raises(FileNotFoundError):
        resolve_config("GAE", config_file=tmp_path / "missing.yaml")


def test_training_stages_inherit_top_level_keys():
    train = resolve_config("GAE", overrides=[
        "+train.stages.pretrain.epochs=4", "+train.stages.finetune.lr=0.5",
        "+train.stages.finetune.init_clusters=true"])["train"]
    stages = training_stages(train)
    assert [s["name"] for s in stages] == ["pretrain", "finetune"]
    assert stages[0]["epochs"] == 4 and stages[0]["lr"] == 0.01
    assert stages[1]["epochs"] == 200 and stages[1]["lr"] == 0.5
    assert stages[1]["init_clusters"] is True and stages[0]["init_clusters"] is False
    assert [s["name"] for s in training_stages({**train, "stages": None})] == ["train"]


def test_parse_overrides_values_are_yaml():
    parsed = parse_overrides(["a.b=[1, 2]", "c=null", "d=true", "+e.f=text"])
    assert parsed == [("a.b", [1, 2], False), ("c", None, False), ("d", True, False),
                      ("e.f", "text", True)]
