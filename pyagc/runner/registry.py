"""The method registry: one small :class:`MethodSpec` per clustering method.

A spec says how to build the model from its resolved config and which ECO family it belongs
to; the generic recipe in :mod:`pyagc.runner.recipe` and :mod:`pyagc.runner.experiment` does
the rest (training loop, mini-batching, inference, KMeans, metrics). Adding a method is one
:func:`register_method` call plus a YAML file in ``pyagc/configs``.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

FAMILIES = ("traditional", "non-parametric", "deep-decoupled", "deep-joint")

# build(model_cfg, data, n_clusters) -> model (or None for feature-only baselines)
Builder = Callable[[Dict[str, Any], Any, int], Any]


@dataclass
class MethodSpec:
    """How the runner drives one method.

    Args:
        name: display name (``pyagc run NAME``; matched case-insensitively).
        family: ECO family, one of :data:`FAMILIES`. ``'deep-joint'`` methods predict labels
            themselves (``ClusteringModel.forward``); all others are clustered by KMeans on
            their (L2-normalised) embeddings.
        build: ``build(model_cfg, data, n_clusters) -> model``; ``model_cfg`` is the resolved
            ``model`` section of the config.
        requires: ``"module:attr"`` that must import for the method to be available (its model
            class); ``None`` when the method needs nothing beyond pyagc's core.
        recipe: ``'none'`` (no training: embed directly), ``'loss'`` (gradient training on
            ``model.loss`` through ``train_full``/``train_batch``) or ``'walk'`` (random-walk
            loader: ``model.loader(...)`` yields ``(pos_rw, neg_rw)`` for ``model.loss``).
        needs_features: whether node features are required.
        mini_batch: whether ``--mini-batch`` (neighbour sampling) is supported.
        embed: optional ``embed(model, data) -> Tensor`` replacing ``model.infer_full`` (e.g.
            a baseline that clusters the raw features, or Node2Vec's lookup table).
        num_layers: optional ``num_layers(model_cfg) -> int``, the hops a mini-batch must
            sample (defaults to ``model_cfg['num_layers']``).
        prepare: optional ``prepare(model, data)`` called once before training (e.g. whole-graph
            statistics a mini-batch loss needs).
        param_groups: optional ``param_groups(model) -> {name: parameters}`` when the method
            trains several players with their own optimizers (e.g. ARGA's discriminator);
            each group's learning rate is ``train.lr`` unless ``train.<name>_lr`` is set.
        step: optional ``step(model, data, optimizers, epoch, loss_kwargs) -> float``, one
            full-batch epoch for methods that are not a single ``train_full`` call (so it
            cannot be combined with ``mini_batch=True``).
        predict: optional ``predict(model, embedding) -> labels`` for joint methods whose
            ``forward`` is "encode, then cluster head": the runner then encodes the graph
            once and gets both the embedding and the labels from that one pass (without it,
            keeping a joint model's embedding costs a second ``embed`` call).
        rounding: optional ``{name: round(model, embedding) -> labels}``: clustering steps
            other than KMeans that ``cluster.method`` may name (e.g. S2CAG's ``'snem'``).
        seeded: the model takes a ``seed`` keyword (e.g. a randomized SVD); each run passes
            its own seed unless the config sets ``model.seed``.
        description: one line for ``pyagc list``.
    """

    name: str
    family: str
    build: Builder
    requires: Optional[str] = None
    recipe: str = "loss"
    needs_features: bool = True
    mini_batch: bool = False
    embed: Optional[Callable[[Any, Any], Any]] = None
    num_layers: Optional[Callable[[Dict[str, Any]], int]] = None
    prepare: Optional[Callable[[Any, Any], None]] = None
    param_groups: Optional[Callable[[Any], Dict[str, Any]]] = None
    step: Optional[Callable[..., float]] = None
    rounding: Optional[Dict[str, Callable[[Any, Any], Any]]] = None
    predict: Optional[Callable[[Any, Any], Any]] = None
    seeded: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}.")
        if self.recipe not in ("none", "loss", "walk"):
            raise ValueError(f"recipe must be 'none', 'loss' or 'walk', got {self.recipe!r}.")
        if self.step is not None and self.mini_batch:
            raise ValueError(f"{self.name}: a custom full-graph step cannot be combined with "
                             "mini_batch=True; set mini_batch=False.")

    @property
    def joint(self) -> bool:
        return self.family == "deep-joint"

    def available(self) -> bool:
        """Whether the model class this method needs can be imported."""
        return _import_target(self.requires) is not None if self.requires else True

    def hops(self, model_cfg: Dict[str, Any]) -> int:
        if self.num_layers is not None:
            return int(self.num_layers(model_cfg))
        return int(model_cfg.get("num_layers", 1))


_REGISTRY: Dict[str, MethodSpec] = {}


def _import_target(target: str) -> Any:
    module, _, attr = target.partition(":")
    try:
        obj = importlib.import_module(module)
    except ImportError:
        return None
    return getattr(obj, attr, None) if attr else obj


def register_method(spec: MethodSpec, overwrite: bool = False) -> MethodSpec:
    """Add ``spec`` to the registry (``overwrite=True`` replaces a method of the same name)."""
    key = spec.name.lower()
    if key in _REGISTRY and not overwrite:
        raise ValueError(f"A method named {spec.name!r} is already registered; pass "
                         "overwrite=True to replace it.")
    _REGISTRY[key] = spec
    return spec


def unregister_method(name: str) -> None:
    _REGISTRY.pop(name.lower(), None)


def list_methods(available_only: bool = True) -> List[MethodSpec]:
    """Registered methods (by default only those whose model class can be imported)."""
    specs = list(_REGISTRY.values())
    return [s for s in specs if s.available()] if available_only else specs


def get_method(name: str) -> MethodSpec:
    """The spec registered under ``name`` (case-insensitive), with a clear error otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"method must be a string, got {type(name).__name__}.")
    spec = _REGISTRY.get(name.lower())
    available = ", ".join(s.name for s in list_methods())
    if spec is None:
        raise ValueError(f"Unknown method {name!r}. Available: {available}.")
    if not spec.available():
        raise ValueError(f"Method {spec.name} is registered but its model "
                         f"({spec.requires}) is not in this installation. Available: "
                         f"{available}.")
    return spec
