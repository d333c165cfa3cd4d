"""The registry entries of pyagc's methods.

Each entry builds a model from the resolved ``model`` section of its config (the keys of
``pyagc/configs/<Method>.yaml``) and names its ECO family; the runner's generic recipe does
the rest (training loop, mini-batches, inference, KMeans, metrics, outputs). To add a method
``Foo`` whose class lives in ``pyagc/models/foo.py``:

1. add ``"Foo": "foo"`` to ``_LOCATIONS`` below;
2. write ``pyagc/configs/Foo.yaml``: a ``model:`` section with the constructor's arguments
   (deep methods: an ``encoder:`` sub-section for :func:`pyagc.encoders.create_tuned_gnn`),
   a ``train:`` section if it trains (epochs, lr, weight_decay, patience; two-stage methods a
   ``stages: {pretrain: {...}, finetune: {..., init_clusters: true}}`` mapping), ``cluster:``
   and per-dataset overrides under ``datasets:``;
3. register it, e.g. for a decoupled deep method taking ``encoder`` and ``hidden_channels``::

       def _build_foo(cfg, data, k):
           enc_cfg, rest = _split(cfg)
           return _construct(_model("Foo"), dict(rest, hidden_channels=_encoder_width(cfg),
                                                 encoder=_encoder(enc_cfg, data.num_features)))

       register_method(MethodSpec("Foo", "deep-decoupled", requires=_where("Foo"),
                                  build=_build_foo, mini_batch=True,
                                  num_layers=_encoder_layers, description="Foo (2024)"))

   A joint method (``ClusteringModel``) uses family ``"deep-joint"`` and also receives
   ``n_clusters=k``; a non-parametric one uses ``recipe="none"``.
"""
from __future__ import annotations

import inspect
from typing import Any, Dict

from torch import Tensor
from torch.nn import Module

from pyagc.runner.config import ConfigError
from pyagc.runner.registry import MethodSpec, register_method


# Where each model class lives (the module of its own file, so a method works as soon as the
# file lands, before pyagc.models re-exports it).
_LOCATIONS = {"Node2Vec": "node2vec", "SGC": "sgc", "SSGC": "ssgc", "NAFS": "nafs",
              "SAGSC": "sagsc", "S2CAG": "s2cag", "MS2CAG": "s2cag", "GAE": "gae",
              "VGAE": "gae", "ARGA": "arga", "ARGVA": "arga", "DGI": "dgi", "DMoN": "dmon"}


def _where(name: str) -> str:
    return f"pyagc.models.{_LOCATIONS[name]}:{name}"


def _model(name: str):
    import importlib
    import pyagc.models as models
    if hasattr(models, name):
        return getattr(models, name)
    module, _, attr = _where(name).partition(":")
    return getattr(importlib.import_module(module), attr)


def _construct(cls, kwargs: Dict[str, Any]):
    """``cls(**kwargs)``, turning a wrong config key into one clear error."""
    params = inspect.signature(cls).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(k for k in kwargs if k not in params)
        if unknown:
            accepted = ", ".join(k for k in params if k not in ("self", "args", "kwargs"))
            raise ConfigError(f"model.{unknown[0]} is not an argument of {cls.__name__}; it "
                              f"takes: {accepted}.")
    return cls(**kwargs)


def _encoder(enc_cfg: Dict[str, Any], in_channels: int) -> Module:
    from pyagc.encoders import create_tuned_gnn
    enc_cfg = dict(enc_cfg)
    try:
        return create_tuned_gnn(in_channels=in_channels, **enc_cfg)
    except TypeError as err:
        raise ConfigError(f"Bad model.encoder settings: {err}") from None


def _encoder_layers(cfg: Dict[str, Any]) -> int:
    return int(cfg["encoder"]["num_layers"])


def _encoder_width(cfg: Dict[str, Any]) -> int:
    enc = cfg["encoder"]
    return int(enc.get("out_channels") or enc["hidden_channels"])


def _split(cfg: Dict[str, Any]) -> tuple:
    cfg = dict(cfg)
    return cfg.pop("encoder"), cfg


# ------------------------------------------------------------------ traditional
register_method(MethodSpec(
    "KMeans", "traditional", build=lambda cfg, data, k: None, recipe="none",
    embed=lambda model, data: data.x,
    description="KMeans on the raw node features (no graph)"))


def _build_node2vec(cfg: Dict[str, Any], data, k: int):
    return _construct(_model("Node2Vec"), dict(cfg, edge_index=data.edge_index,
                                               num_nodes=data.num_nodes))


register_method(MethodSpec(
    "Node2Vec", "traditional", requires=_where("Node2Vec"), build=_build_node2vec,
    recipe="walk", needs_features=False, seeded=True, embed=lambda model, data: model.embed(),
    description="node2vec random-walk embeddings (Grover & Leskovec, KDD 2016)"))

# ------------------------------------------------------------------ non-parametric
for _name, _description in (
        ("SGC", "K-hop normalised-adjacency smoothing (Wu et al., ICML 2019)"),
        ("SSGC", "Markov-diffusion smoothing (Zhu & Koniusz, ICLR 2021)"),
        ("NAFS", "node-adaptive feature smoothing (Zhang et al., ICML 2022)")):
    register_method(MethodSpec(
        _name, "non-parametric", requires=_where(_name), recipe="none",
        build=(lambda name: lambda cfg, data, k: _construct(_model(name), cfg))(_name),
        description=_description))


def _snem(model, z: Tensor) -> Tensor:
    from pyagc.models.s2cag import snem_rounding
    return snem_rounding(z, model.snem_iterations)


def _build_sagsc(cfg: Dict[str, Any], data, k: int):
    return _construct(_model("SAGSC"), dict(cfg, k=k))


register_method(MethodSpec(
    "SAGSC", "non-parametric", requires=_where("SAGSC"), recipe="none", build=_build_sagsc,
    seeded=True,
    description="scalable attributed-graph subspace clustering (Fettal et al., AAAI 2023)"))
for _name, _description in (
        ("S2CAG", "spectral subspace clustering (Lin et al., KDD 2025)"),
        ("MS2CAG", "modularity-aware S2CAG (Lin et al., KDD 2025)")):
    register_method(MethodSpec(
        _name, "non-parametric", requires=_where(_name), recipe="none", seeded=True,
        build=(lambda name: lambda cfg, data, k: _construct(
            _model(name), dict(cfg, n_clusters=k)))(_name),
        rounding={"snem": _snem}, description=_description))


# ------------------------------------------------------------------ deep decoupled
def _build_gae(cfg: Dict[str, Any], data, k: int):
    enc_cfg, rest = _split(cfg)
    return _construct(_model("GAE"), dict(rest, encoder=_encoder(enc_cfg, data.num_features)))


def _build_variational(name: str):
    def build(cfg: Dict[str, Any], data, k: int):
        from pyagc.runner.modules import VariationalEncoder, discriminator_mlp
        enc_cfg, rest = _split(cfg)
        encoder = VariationalEncoder(data.num_features, **enc_cfg)
        if name == "ARGVA":
            rest = _with_discriminator(rest, encoder.out_channels, discriminator_mlp)
        return _construct(_model(name), dict(rest, encoder=encoder))
    return build


def _with_discriminator(rest: Dict[str, Any], width: int, factory) -> Dict[str, Any]:
    rest = dict(rest)
    hidden = rest.pop("discriminator_channels", 64)
    rest["discriminator"] = factory(width, int(hidden))
    rest.pop("discriminator_steps", None)
    return rest


def _build_arga(cfg: Dict[str, Any], data, k: int):
    from pyagc.runner.modules import discriminator_mlp
    enc_cfg, rest = _split(cfg)
    encoder = _encoder(enc_cfg, data.num_features)
    rest = _with_discriminator(rest, _encoder_width(cfg), discriminator_mlp)
    model = _construct(_model("ARGA"), dict(rest, encoder=encoder))
    model.discriminator_steps = int(cfg.get("discriminator_steps", 5))
    return model


def _build_argva(cfg: Dict[str, Any], data, k: int):
    model = _build_variational("ARGVA")(cfg, data, k)
    model.discriminator_steps = int(cfg.get("discriminator_steps", 5))
    return model


def _adversarial_groups(model) -> Dict[str, Any]:
    disc = set(id(p) for p in model.discriminator.parameters())
    return {"model": [p for p in model.parameters() if id(p) not in disc],
            "discriminator": list(model.discriminator.parameters())}


def _adversarial_step(model, data, optimizers, epoch: int, loss_kwargs: Dict[str, Any]) -> float:
    """ARGA's epoch: ``discriminator_steps`` discriminator updates on the current codes, then
    one encoder update on reconstruction + adversarial regularisation."""
    for _ in range(getattr(model, "discriminator_steps", 5)):
        model.train_discriminator(data, optimizers["discriminator"], epoch, verbose=False)
    return float(model.train_encoder(data, optimizers["model"], epoch, verbose=False))


register_method(MethodSpec(
    "GAE", "deep-decoupled", requires=_where("GAE"), build=_build_gae, mini_batch=True,
    num_layers=_encoder_layers,
    description="graph auto-encoder (Kipf & Welling, 2016)"))
register_method(MethodSpec(
    "VGAE", "deep-decoupled", requires=_where("VGAE"), build=_build_variational("VGAE"),
    mini_batch=True, num_layers=_encoder_layers,
    description="variational graph auto-encoder (Kipf & Welling, 2016)"))
register_method(MethodSpec(
    "ARGA", "deep-decoupled", requires=_where("ARGA"), build=_build_arga,
    num_layers=_encoder_layers, param_groups=_adversarial_groups, step=_adversarial_step,
    description="adversarially regularised GAE (Pan et al., IJCAI 2018)"))
register_method(MethodSpec(
    "ARGVA", "deep-decoupled", requires=_where("ARGVA"), build=_build_argva,
    num_layers=_encoder_layers, param_groups=_adversarial_groups, step=_adversarial_step,
    description="adversarially regularised VGAE (Pan et al., IJCAI 2018)"))


def _build_dgi(cfg: Dict[str, Any], data, k: int):
    enc_cfg, rest = _split(cfg)
    return _construct(_model("DGI"), dict(rest, encoder=_encoder(enc_cfg, data.num_features),
                                          hidden_channels=_encoder_width(cfg)))


register_method(MethodSpec(
    "DGI", "deep-decoupled", requires=_where("DGI"), build=_build_dgi, mini_batch=True,
    num_layers=_encoder_layers,
    description="deep graph infomax (Velickovic et al., ICLR 2019)"))


# ------------------------------------------------------------------ deep joint
def _build_dmon(cfg: Dict[str, Any], data, k: int):
    enc_cfg, rest = _split(cfg)
    return _construct(_model("DMoN"), dict(rest, encoder=_encoder(enc_cfg, data.num_features),
                                           n_features=_encoder_width(cfg), n_clusters=k))


def _graph_statistics(model, data) -> None:
    if hasattr(model, "set_graph_statistics"):
        model.set_graph_statistics(data)


register_method(MethodSpec(
    "DMoN", "deep-joint", requires=_where("DMoN"), build=_build_dmon, mini_batch=True,
    num_layers=_encoder_layers, prepare=_graph_statistics,
    # DMoN.forward is cluster_head.cluster(embed(...)): the runner encodes once.
    predict=lambda model, z: model.cluster_head.cluster(z),
    description="deep modularity networks (Tsitsulin et al., JMLR 2023)"))
