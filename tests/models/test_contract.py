"""The model contract, checked for every method the registry knows (like scikit-learn's
``parametrize_with_checks``): a new method exported by ``pyagc.models`` is checked here
without writing these checks again."""
import pytest
import torch
from torch_geometric.data import Data

from pyagc.data import make_csbm
from pyagc.models import FAMILIES, BaseModel, TrainableModel, list_models, resolve_model
from pyagc.runner import resolve_config, run_experiment
from pyagc.runner.config import method_config_path

METHODS = [cls.__name__ for cls in list_models()]
# Small widths and two epochs: the checks are about the contract, not about quality.
FAST = {"train.epochs": 2, "train.batch_size": 32, "train.inference_batch_size": 32}


def _fast(cls) -> dict:
    overrides = dict(FAST)
    config = resolve_config(cls.__name__)
    model_cfg = config["model"]
    # Staged methods (pretrain -> finetune) set their epochs per stage.
    for stage in config["train"].get("stages") or {}:
        overrides[f"train.stages.{stage}.epochs"] = 2
    if isinstance(model_cfg.get("encoder"), dict):
        overrides["model.encoder.hidden_channels"] = 8
    return overrides


@pytest.fixture(scope="module")
def tiny():
    return make_csbm(60, 3, avg_degree=6, num_features=8, feature_signal=1.0, seed=0)


def test_the_registry_lists_every_method_once_and_finds_it_case_insensitively():
    assert len(METHODS) == len(set(METHODS)) >= 14
    for name in METHODS:
        assert resolve_model(name.lower()).__name__ == name
        assert resolve_model(name.upper().replace("2", "_2")).__name__ == name
    with pytest.raises(ValueError, match="Unknown method 'NoSuchMethod'. Available: KMeans"):
        resolve_model("NoSuchMethod")


@pytest.mark.parametrize("name", METHODS)
def test_describes_itself(name):
    cls = resolve_model(name)
    assert cls.family in FAMILIES
    assert isinstance(cls.supports_mini_batch, bool) and isinstance(cls.needs_features, bool)
    line = cls.description()
    assert line and len(line) <= 100 and ":math:" not in line and ":class:" not in line
    assert line == cls.__doc__.strip().splitlines()[0].strip()
    assert method_config_path(name) is not None, f"{name} ships no pyagc/configs/{name}.yaml"
    if cls.family == "deep-joint":
        assert hasattr(cls, "forward") and issubclass(cls, TrainableModel)


@pytest.mark.parametrize("name", METHODS)
def test_builds_from_its_yaml_and_gives_aligned_shapes(name, tiny):
    cls = resolve_model(name)
    result = run_experiment(name, data=tiny, verbose=False, overrides=_fast(cls))
    run = result.last
    assert isinstance(run.model, cls)
    assert run.labels.shape == (60,) and run.labels.dtype == torch.long
    assert 0 <= int(run.labels.min()) and int(run.labels.max()) < 3
    assert run.embedding.dim() == 2 and run.embedding.size(0) == 60
    assert torch.isfinite(run.embedding).all()


@pytest.mark.parametrize("name", METHODS)
def test_same_seed_gives_the_same_labels_on_cpu(name, tiny):
    cls = resolve_model(name)
    a, b = (run_experiment(name, data=tiny, seed=3, verbose=False, overrides=_fast(cls)).last
            for _ in range(2))
    assert torch.equal(a.labels, b.labels)
    assert torch.equal(a.embedding, b.embedding)


@pytest.mark.parametrize("name", METHODS)
def test_reset_parameters_changes_the_parameters(name, tiny):
    cls = resolve_model(name)
    config = resolve_config(name, overrides=_fast(cls))
    model = cls.from_config(config["model"], tiny, 3, seed=0)
    params = [p for p in model.parameters() if p.requires_grad and p.numel() > 1]
    if not params:
        assert not issubclass(cls, TrainableModel), f"{name} trains but has no parameters"
        model.reset_parameters()  # a fixed filter: nothing to re-draw, and no error
        return
    before = [p.detach().clone() for p in params]
    torch.manual_seed(123)
    model.reset_parameters()
    assert any(not torch.equal(b, p) for b, p in zip(before, params))


@pytest.mark.parametrize("name", METHODS)
def test_mini_batch_works_exactly_when_the_model_says_so(name, tiny):
    cls = resolve_model(name)
    if cls.supports_mini_batch:
        run = run_experiment(name, data=tiny, mini_batch=True, verbose=False,
                             overrides=_fast(cls)).last
        assert run.labels.shape == (60,)
        assert run.history and all(h["loss"] == h["loss"] for h in run.history)
    else:
        with pytest.raises(ValueError, match=f"{name} does not support --mini-batch"):
            run_experiment(name, data=tiny, mini_batch=True, verbose=False,
                           overrides=_fast(cls))


@pytest.mark.parametrize("name", [n for n in METHODS if resolve_model(n).needs_features])
def test_nan_features_give_one_clear_error(name, tiny):
    x = tiny.x.clone()
    x[5, 2] = float("nan")
    bad = Data(x=x, edge_index=tiny.edge_index, y=tiny.y, num_nodes=60)
    with pytest.raises(ValueError, match="NaN"):
        run_experiment(name, data=bad, verbose=False, overrides=_fast(resolve_model(name)))


def test_a_graph_without_features_is_refused_by_methods_that_need_them(tiny):
    no_x = Data(edge_index=tiny.edge_index, y=tiny.y, num_nodes=60)
    with pytest.raises(ValueError, match="SSGC needs node features"):
        run_experiment("SSGC", data=no_x, verbose=False)
    run = run_experiment("Node2Vec", data=no_x, verbose=False, overrides=FAST).last
    assert run.labels.shape == (60,)


def test_a_users_model_class_runs_through_the_same_contract(tiny):
    class FirstFeature(BaseModel):
        """The first feature column as a 1-d embedding."""

        def embed(self, x, edge_index=None, **kwargs):
            return x[:, :1]

    run = run_experiment(FirstFeature, data=tiny, verbose=False).last
    assert run.labels.shape == (60,) and run.embedding.shape == (60, 1)
