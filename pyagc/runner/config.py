"""Configs: package defaults, one YAML per method, per-dataset overrides, user overrides.

Resolution order (later wins):

1. :data:`BASE_CONFIG` — the runner's defaults shared by all methods;
2. ``pyagc/configs/<Method>.yaml`` top-level sections;
3. that file's ``datasets: {<Dataset>: {...}}`` entry for the dataset being run;
4. a user ``--config FILE`` (same layout, its own ``datasets:`` entry applied too);
5. ``--set section.key=value`` overrides (or ``key=value`` when the key is unique).

Every file (and every ``--set`` value) is read as plain data by :func:`load_yaml`:
:class:`yaml.SafeLoader` (no Python objects), no anchors/aliases (a few hundred bytes of nested
aliases expand to gigabytes), at most :data:`MAX_DEPTH` levels of nesting and files of at most
:data:`MAX_CONFIG_BYTES`. Keys that the defaults do not know are
rejected (a typo must not pass silently); prefix a ``--set`` key with ``+`` to add a new one
(e.g. ``--set +model.heads=4`` for an extra encoder argument).
"""
from __future__ import annotations

import copy
import os
import re
from importlib import resources
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import yaml

from pyagc.utils import deep_update_dict
from pyagc.utils.validation import ConfigError, check_scalar

SECTIONS = ("model", "train", "cluster", "data")

#: Defaults every method starts from (documented in each method's YAML when changed).
BASE_CONFIG: Dict[str, Any] = {
    "model": {},
    "train": {
        # One training stage unless ``stages`` maps stage names to their own settings.
        "epochs": 0,
        "optimizer": "adam",    # adam | sparse_adam | sgd
        "lr": 0.01,
        "weight_decay": 0.0,
        "patience": 0,          # stop after this many epochs without a better loss (0: off)
        "min_delta": 0.0,       # an improvement must beat the best loss by more than this
        "restore_best": True,   # embed with the lowest-loss weights, not the last ones
        "loss_kwargs": {},
        "stages": None,
        # Mini-batch training (``--mini-batch`` or mini_batch: true): neighbour fan-out per
        # hop and seeds per batch.
        "mini_batch": False,
        "fan_out": 10,
        "batch_size": 1024,
        "inference_fan_out": -1,
        "inference_batch_size": 4096,
        # Mini-batch mode with inference_fan_out -1: embed every node layer by layer
        # (TunedGNN.inference), this many target nodes at a time; null: infer over a neighbour
        # loader of inference_batch_size seeds instead (one multi-hop subgraph per batch).
        "layerwise_batch_size": 65536,
        "checkpoint_every": 10,  # epochs between 'last' checkpoints (the final one always)
    },
    "cluster": {
        "n_clusters": None,     # default: the number of classes in the labels
        "method": "kmeans",     # kmeans, or one of the model's cluster_methods
        "backend": "torch",     # 'torch' (TorchKMeans) or 'sklearn'
        "n_init": 10,
        "max_iter": 300,
        # Torch backend: above this many points the restarts run on a sample and Lloyd then
        # refines on all points ('auto': max(1024 k, 50000); null: restarts on all points).
        "sample_size": "auto",
        # ... and that refinement stops once a pass lowers the inertia by less than this share.
        "refine_tol": 1e-4,
        "normalize_embeddings": True,
    },
    "data": {
        # Named datasets (get_dataset): row-normalise the features (PyG NormalizeFeatures);
        # false keeps them as stored (e.g. Planetoid's binary bag of words).
        "normalize_features": True,
        # The synthetic default graph (contextual SBM, pyagc.data.make_csbm), used when no
        # dataset or graph file is given.
        "num_nodes": 2000,
        "n_clusters": 5,
        "avg_degree": 8.0,
        "homophily": 0.7,
        "num_features": 64,
        "features": "gaussian",
        "feature_signal": 0.25,
        "seed": 0,
    },
}

STAGE_KEYS = ("epochs", "optimizer", "lr", "weight_decay", "patience", "min_delta", "restore_best",
              "loss_kwargs", "init_clusters")


_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _coerce(value: Any) -> Any:
    """YAML 1.1 reads ``1e-3`` as a string; turn such numeric strings into floats."""
    if isinstance(value, str) and _FLOAT.match(value.strip()):
        return float(value)
    if isinstance(value, dict):
        return {k: _coerce(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_coerce(v) for v in value]
    return value


#: Deepest nesting of mappings/lists a config may have (the packaged ones use 5).
MAX_DEPTH = 32
#: Largest config file read (the packaged ones are a few KB).
MAX_CONFIG_BYTES = 1 << 20


class _PlainDataLoader(yaml.SafeLoader):
    """:class:`yaml.SafeLoader` that refuses aliases and bounds the nesting depth while it
    composes the document, before anything is built."""

    _depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ConfigError(f"YAML aliases are not accepted ('*{event.anchor}' at line "
                              f"{event.start_mark.line + 1}): write the values out in full "
                              "(aliases let a tiny file expand to gigabytes).")
        if self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise ConfigError(f"the YAML is nested more than {MAX_DEPTH} levels deep (line "
                              f"{mark.line + 1}); a config needs a few.")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(stream: Any) -> Any:
    """Parse YAML text (or an open file) as plain data: :class:`yaml.SafeLoader`, without
    aliases, at most :data:`MAX_DEPTH` levels deep.

    Raises:
        yaml.YAMLError: not valid YAML.
        ConfigError: an alias, or too deep a nesting.
    """
    return yaml.load(stream, Loader=_PlainDataLoader)


def load_yaml_file(path: Union[str, os.PathLike], what: str = "Config file") -> Any:
    """The plain data in the YAML file ``path`` (:func:`load_yaml`), any problem (missing,
    too large, not text, not valid YAML, aliases) as one error naming the file.

    Raises:
        TypeError: ``path`` is not a path.
        FileNotFoundError: ``path`` is not a file.
        ConfigError: everything else.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} must be a path to a YAML file, got {type(path).__name__}.")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} {path!r} does not exist.")
    size = os.path.getsize(path)
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{what} {path!r} is {size:,} bytes; a config is at most "
                          f"{MAX_CONFIG_BYTES:,}.")
    try:
        with open(path, encoding="utf-8") as handle:
            return load_yaml(handle)
    except yaml.YAMLError as err:  # on one line: the CLI shows one line
        raise ConfigError(f"{what} {path!r} is not valid YAML: {' '.join(str(err).split())}"
                          ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path!r} is not a UTF-8 text file.") from None
    except ConfigError as err:
        raise ConfigError(f"{what} {path!r}: {err}") from None


def read_yaml(path: Union[str, os.PathLike]) -> Dict[str, Any]:
    """A YAML mapping from ``path`` (:func:`load_yaml_file`), with a clear error otherwise."""
    content = load_yaml_file(path)
    path = os.fspath(path)
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"Config file {path!r} must hold a mapping of sections "
                          f"({', '.join(SECTIONS)}), got {type(content).__name__}.")
    return _coerce(content)


def method_config_path(method: str) -> Optional[str]:
    """Path of the packaged YAML of ``method`` (case-insensitive), or ``None``."""
    folder = resources.files("pyagc") / "configs"
    try:
        entries = list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return None
    for entry in entries:
        if entry.name.lower() == f"{method.lower()}.yaml":
            return str(entry)
    return None


def _split_datasets(raw: Dict[str, Any], source: str) -> tuple:
    raw = dict(raw)
    per_dataset = raw.pop("datasets", None) or {}
    if not isinstance(per_dataset, dict):
        raise ConfigError(f"'datasets' in {source} must map dataset names to overrides.")
    unknown = [key for key in raw if key not in SECTIONS]
    if unknown:
        raise ConfigError(f"Unknown config section(s) {unknown} in {source}; the sections "
                          f"are {', '.join(SECTIONS)} (plus 'datasets').")
    return raw, per_dataset


def _dataset_entry(per_dataset: Mapping[str, Any], dataset: Optional[str]) -> Dict[str, Any]:
    if dataset is None:
        return {}
    for name, entry in per_dataset.items():
        if str(name).lower() == dataset.lower():
            return entry or {}
    return {}


def _check_known(overrides: Mapping[str, Any], reference: Mapping[str, Any], source: str,
                 prefix: str = "") -> None:
    for key, value in overrides.items():
        path = f"{prefix}{key}"
        if key not in reference:
            known = ", ".join(sorted(map(str, reference))) or "(none)"
            raise ConfigError(f"Unknown config key {path!r} in {source}. Known keys here: "
                              f"{known}.")
        if isinstance(value, dict) and isinstance(reference[key], dict) and reference[key]:
            if prefix == "train.stages." or path.startswith("train.loss_kwargs"):
                continue
            _check_known(value, reference[key], source, prefix=f"{path}.")


def _merge_checked(config: Dict[str, Any], layer: Dict[str, Any], source: str,
                   strict: bool) -> Dict[str, Any]:
    if strict:
        _check_known(layer, config, source)
    return deep_update_dict(config, layer)


def parse_overrides(items: Iterable[str]) -> List[tuple]:
    """``['train.lr=0.01', '+model.heads=4']`` -> ``[(path, value, add_new)]``."""
    parsed = []
    for item in items or ():
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r} "
                              "(e.g. --set train.epochs=50).")
        key, _, text = item.partition("=")
        key = key.strip()
        add_new = key.startswith("+")
        key = key.lstrip("+")
        if not key or any(not part for part in key.split(".")):
            raise ConfigError(f"--set has an empty key in {item!r}.")
        try:
            value = load_yaml(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        except ConfigError as err:
            raise ConfigError(f"--set {item!r}: {err}") from None
        parsed.append((key, _coerce(value), add_new))
    return parsed


def _find_key(node: Any, key: List[str], prefix: List[str]) -> List[List[str]]:
    """Every path below ``node`` ending in the dotted ``key``."""
    hits = []
    if not isinstance(node, dict):
        return hits
    here = node
    for depth, part in enumerate(key):
        if not isinstance(here, dict) or part not in here:
            break
        here = here[part]
    else:
        hits.append(prefix + key)
    for name, child in node.items():
        if isinstance(child, dict):
            hits += _find_key(child, key, prefix + [name])
    return hits


def _resolve_path(config: Dict[str, Any], key: str, add_new: bool) -> List[str]:
    parts = key.split(".")
    if parts[0] in SECTIONS or add_new:
        return parts
    # A bare key (e.g. ``epochs`` or ``hidden_channels``) is accepted when exactly one place
    # in the config holds it.
    hits = [path for section in SECTIONS
            for path in _find_key(config.get(section), parts, [section])]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        options = ", ".join(".".join(h) for h in hits)
        raise ConfigError(f"--set key {key!r} is ambiguous: it exists as {options}; write the "
                          "full path.")
    raise ConfigError(_unknown_key_message(config, key))


def _leaf_paths(node: Any, prefix: str) -> List[str]:
    if not isinstance(node, dict) or not node:
        return [prefix]
    out = []
    for key, value in node.items():
        out += _leaf_paths(value, f"{prefix}.{key}")
    return out


def _unknown_key_message(config: Dict[str, Any], key: str) -> str:
    section = key.split(".")[0]
    sections = [section] if section in SECTIONS else list(SECTIONS)
    known = ", ".join(path for s in sections if isinstance(config.get(s), dict)
                      for path in _leaf_paths(config[s], s)) or "(none)"
    return (f"Unknown config key {key!r}. Known keys: {known}. (Prefix with '+' to add a new "
            "key, e.g. --set +model.heads=4.)")


def apply_overrides(config: Dict[str, Any], overrides: Union[Iterable[str], Mapping[str, Any]]
                    ) -> Dict[str, Any]:
    """Apply ``--set`` style overrides (strings, or a mapping ``{dotted_key: value}``)."""
    config = copy.deepcopy(config)
    if isinstance(overrides, Mapping):
        items = [(k.lstrip("+"), _coerce(v), k.startswith("+")) for k, v in overrides.items()]
    else:
        items = parse_overrides(overrides)
    for key, value, add_new in items:
        parts = _resolve_path(config, key, add_new)
        node = config
        for depth, part in enumerate(parts[:-1]):
            if not isinstance(node.get(part), dict):
                if add_new or (node.get(part) is None and part == "stages"):
                    node[part] = {}
                else:
                    raise ConfigError(_unknown_key_message(config, ".".join(parts)))
            node = node[part]
        leaf = parts[-1]
        if leaf not in node and not add_new and not _inside_free_mapping(parts):
            raise ConfigError(_unknown_key_message(config, ".".join(parts)))
        if isinstance(node.get(leaf), dict) and not isinstance(value, dict) and value is not None:
            raise ConfigError(f"Config key {'.'.join(parts)!r} is a section; set one of its "
                              f"keys ({', '.join(node[leaf])}).")
        node[leaf] = value
    return config


def _inside_free_mapping(parts: List[str]) -> bool:
    # loss_kwargs take whatever a model's loss accepts; stage entries take STAGE_KEYS.
    if len(parts) >= 3 and parts[0] == "train" and parts[1] == "loss_kwargs":
        return True
    if len(parts) == 4 and parts[:2] == ["train", "stages"]:
        return parts[3] in STAGE_KEYS
    return False


def resolve_config(method: str, dataset: Optional[str] = None,
                   config_file: Optional[Union[str, os.PathLike]] = None,
                   overrides: Union[Iterable[str], Mapping[str, Any], None] = None
                   ) -> Dict[str, Any]:
    """The resolved config of ``method`` on ``dataset`` (see the module docstring)."""
    config = copy.deepcopy(BASE_CONFIG)
    path = method_config_path(method)
    if path is not None:
        layer, per_dataset = _split_datasets(read_yaml(path), path)
        # The method's own file defines its model keys, so only train/cluster/data are checked.
        config = deep_update_dict(config, layer)
        config = _merge_checked(config, _dataset_entry(per_dataset, dataset), path, strict=True)
    if config_file is not None:
        layer, per_dataset = _split_datasets(read_yaml(config_file), os.fspath(config_file))
        config = _merge_checked(config, layer, os.fspath(config_file), strict=True)
        config = _merge_checked(config, _dataset_entry(per_dataset, dataset),
                                os.fspath(config_file), strict=True)
    if overrides:
        config = apply_overrides(config, overrides)
    _check_values(config)
    return config


def training_stages(train: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The ordered training stages, each a dict with ``name`` and :data:`STAGE_KEYS`.

    Without ``train.stages`` there is one stage, ``'train'``, built from the top-level
    ``train`` keys; with it (e.g. ``{pretrain: {...}, finetune: {..., init_clusters: true}}``)
    each stage inherits the top-level keys it does not set.
    """
    base = {key: train.get(key) for key in STAGE_KEYS}
    base["init_clusters"] = bool(train.get("init_clusters", False))
    stages = train.get("stages")
    if not stages:
        return [dict(base, name="train")]
    if not isinstance(stages, dict):
        raise ConfigError("train.stages must map stage names (e.g. pretrain, finetune) to "
                          "their settings.")
    out = []
    for name, entry in stages.items():
        entry = entry or {}
        unknown = [k for k in entry if k not in STAGE_KEYS]
        if unknown:
            raise ConfigError(f"Unknown key(s) {unknown} in train.stages.{name}; a stage takes "
                              f"{', '.join(STAGE_KEYS)}.")
        stage = dict(base, init_clusters=False)
        stage.update(entry)
        stage["name"] = str(name)
        out.append(stage)
    return out


def _check_values(config: Dict[str, Any]) -> None:
    train, cluster = config["train"], config["cluster"]
    for stage in training_stages(train):
        where = "train" if stage["name"] == "train" else f"train.stages.{stage['name']}"
        _require(stage["epochs"], f"{where}.epochs", int, min_val=0)
        _require(stage["patience"], f"{where}.patience", int, min_val=0)
        _require(stage["lr"], f"{where}.lr", (int, float), min_val=0, include_boundaries="neither")
        _require(stage["weight_decay"], f"{where}.weight_decay", (int, float), min_val=0)
    for key in ("batch_size", "inference_batch_size", "checkpoint_every"):
        _require(train[key], f"train.{key}", int, min_val=1)
    if train["layerwise_batch_size"] is not None:
        _require(train["layerwise_batch_size"], "train.layerwise_batch_size", int, min_val=1)
    for key in ("fan_out", "inference_fan_out"):
        value = train[key]
        if isinstance(value, list):
            for item in value:
                _require(item, f"train.{key}", int, min_val=-1)
        else:
            _require(value, f"train.{key}", int, min_val=-1)
    if cluster["n_clusters"] is not None:
        _require(cluster["n_clusters"], "cluster.n_clusters", int, min_val=1)
    _require(cluster["n_init"], "cluster.n_init", int, min_val=1)
    _require(cluster["max_iter"], "cluster.max_iter", int, min_val=1)
    size = cluster["sample_size"]
    if size not in ("auto", None) and (isinstance(size, bool) or not isinstance(size, int)
                                        or size < 1):
        raise ConfigError(f"cluster.sample_size must be 'auto', null or an integer >= 1, got "
                          f"{size!r}.")
    _require(cluster["refine_tol"], "cluster.refine_tol", (int, float), min_val=0, max_val=1)
    if not isinstance(config["data"].get("normalize_features"), bool):
        raise ConfigError(f"data.normalize_features must be true or false, got "
                          f"{config['data'].get('normalize_features')!r}.")
    if cluster["backend"] not in ("torch", "sklearn"):
        raise ConfigError(f"cluster.backend must be 'torch' or 'sklearn', got "
                          f"{cluster['backend']!r}.")


def _require(value: Any, name: str, target_type: Any, **bounds: Any) -> None:
    """:func:`check_scalar` raising :class:`ConfigError` (``name`` is the dotted config key)."""
    try:
        check_scalar(value, name, target_type, **bounds)
    except ValueError as err:   # ScalarTypeError is a ValueError too
        raise ConfigError(str(err)) from None


def dump_config(config: Dict[str, Any], path: Union[str, os.PathLike]) -> None:
    """Write ``config`` as YAML (atomically: temp file + rename)."""
    from pyagc.runner.checkpoint import atomic_write_text
    atomic_write_text(path, yaml.safe_dump(config, sort_keys=False, default_flow_style=False))
