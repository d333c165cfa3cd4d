"""Base classes of every pyagc model (Encode-Cluster-Optimize), and the contract the runner
relies on.

* :class:`BaseModel` — anything that maps a graph to node embeddings (``embed``).
* :class:`TrainableModel` — a :class:`BaseModel` with a ``loss``; provides the full-batch
  and mini-batch training steps so that models never carry their own loop.
* :class:`ClusteringModel` — a :class:`TrainableModel` whose ``forward`` returns hard
  cluster labels (joint methods such as DMoN).

A model describes itself to the runner, as scikit-learn estimators do with their tags:

* class-level facts: :attr:`~BaseModel.family` (its ECO family, one of :data:`FAMILIES`),
  :attr:`~BaseModel.supports_mini_batch`, :attr:`~BaseModel.needs_features`,
  :attr:`~BaseModel.cluster_methods`; its one-line description is the first line of its
  docstring (:meth:`~BaseModel.description`);
* overridable steps with defaults that fit most models: :meth:`~BaseModel.from_config`
  (build from the ``model`` section of its YAML), :meth:`~BaseModel.prepare` (once per
  graph), :meth:`~TrainableModel.param_groups`, :meth:`~TrainableModel.train_loader` (what an
  epoch iterates over), :meth:`~TrainableModel.fit_epoch`, :meth:`~BaseModel.infer_embedding`
  and :meth:`~BaseModel.predict` (labels, or ``None`` to let the runner run KMeans);
  :meth:`~BaseModel.distributed_refusal` says whether ``--distributed`` can split it (derived
  from the steps above: a model that keeps the default training steps can).

The runner (:mod:`pyagc.runner`) knows no method by name: it finds the classes exported by
:mod:`pyagc.models` and drives them through this contract only.
"""
from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import (Any, Callable, ClassVar, Dict, Iterable, List, Mapping, Optional, Tuple,
                    Union)

import torch
from torch import Tensor
from torch.nn import Module, Parameter
from torch.optim import Optimizer
from torch_geometric.data import Data
from tqdm.auto import tqdm

from pyagc.ops.encoder_inputs import first_rows
from pyagc.ops.random import DeviceGenerators
from pyagc.utils import distributed as dist_utils
from pyagc.utils.validation import ConfigError

#: The ECO families: how a method gets from a graph to clusters.
FAMILIES = ("traditional", "non-parametric", "deep-decoupled", "deep-joint")


class LossOutput:
    """A training loss: the ``total`` to back-propagate and named ``components`` to log.

    Example::

        >>> out = LossOutput(total=torch.tensor(1.5), components={'ali': 0.8, 'nei': 0.5})
        >>> out.log_string("Epoch 01: ")
        'Epoch 01: Loss: 1.5000, ALI: 0.8000, NEI: 0.5000'
    """

    def __init__(self, total: Tensor, components: Dict[str, float]) -> None:
        if not isinstance(total, Tensor):
            total = torch.as_tensor(total, dtype=torch.float)
        self.total = total
        self.components = {name: _as_float(value) for name, value in components.items()}

    def log_string(self, prefix: str = "") -> str:
        parts = [f"Loss: {float(self.total.detach()):.4f}"]
        parts += [f"{name.upper()}: {value:.4f}" for name, value in self.components.items()]
        return prefix + ", ".join(parts)

    def __repr__(self) -> str:
        return f"LossOutput({self.log_string()})"


def _as_float(value: Union[float, Tensor]) -> float:
    return float(value.detach()) if isinstance(value, Tensor) else float(value)


def _split_loss(out: Union[Tensor, LossOutput]) -> LossOutput:
    if isinstance(out, LossOutput):
        return out
    if isinstance(out, Tensor):
        return LossOutput(out, {})
    raise TypeError(f"loss() must return a Tensor or a LossOutput, got {type(out).__name__}.")


def _check_finite(loss: Tensor, epoch: int, where: str) -> None:
    if not torch.isfinite(loss.detach()).all():
        raise FloatingPointError(
            f"The training loss became {float(loss.detach())} at epoch {epoch} ({where}). "
            "Lower the learning rate, check the input features for extreme values, or enable "
            "gradient clipping.")


def _model_device(module: Module) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def _init_parameters(cls: type) -> Dict[str, inspect.Parameter]:
    params = dict(inspect.signature(cls.__init__).parameters)
    params.pop("self", None)
    return params


def _construct(cls: type, kwargs: Dict[str, Any]) -> Any:
    """``cls(**kwargs)``, turning a config key the constructor does not take into one
    :class:`~pyagc.utils.validation.ConfigError` that lists the accepted ones."""
    params = _init_parameters(cls)
    named = {k: p for k, p in params.items()
             if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)}
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(k for k in kwargs if k not in named)
        if unknown:
            raise ConfigError(f"model.{unknown[0]} is not an argument of {cls.__name__}; it "
                              f"takes: {', '.join(named)}.")
    missing = [k for k, p in named.items() if p.default is inspect.Parameter.empty
               and p.kind is not inspect.Parameter.VAR_KEYWORD and k not in kwargs]
    if missing:
        raise ConfigError(f"{cls.__name__} needs model.{missing[0]} in its config (required "
                          f"argument{'s' if len(missing) > 1 else ''}: {', '.join(missing)}).")
    return cls(**kwargs)


class BaseModel(ABC, Module):
    """Interface of every pyagc model: :meth:`embed` returns node embeddings.

    ``infer_full`` runs on the whole graph, ``infer_batch`` over a neighbour loader and keeps
    only the seed nodes of each batch (the first ``batch.batch_size`` rows), so the result is
    aligned with the loader's input nodes.

    Subclasses state what the runner needs to know as class attributes (``family``,
    ``supports_mini_batch``, ``needs_features``, ``cluster_methods``) and override the steps
    whose default does not fit (see the module docstring).
    """

    #: ECO family, one of :data:`FAMILIES`.
    family: ClassVar[str] = "non-parametric"
    #: Whether the model trains and infers on neighbour-sampled mini-batches (``--mini-batch``).
    supports_mini_batch: ClassVar[bool] = False
    #: Whether the model reads node features (``data.x``).
    needs_features: ClassVar[bool] = True
    #: Clustering steps other than KMeans that ``cluster.method`` may name
    #: (see :meth:`round_embedding`).
    cluster_methods: ClassVar[Tuple[str, ...]] = ()
    #: Whether the embedding itself depends on the number of clusters ``k`` (a spectral
    #: embedding of ``k`` columns, say); ``pyagc auto`` then recomputes it for every ``k``
    #: instead of clustering one embedding for all of them.
    embedding_depends_on_k: ClassVar[bool] = False
    #: What builds the ``model.encoder`` config section (:meth:`build_encoder`); ``None``:
    #: :func:`pyagc.encoders.create_tuned_gnn`.
    encoder_factory: ClassVar[Optional[Callable[..., Module]]] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    @abstractmethod
    def embed(self, *args: Any, **kwargs: Any) -> Tensor:
        """Node embeddings, typically of shape ``[num_nodes, hidden]``."""

    def reset_parameters(self) -> None:
        for child in self.children():
            if hasattr(child, "reset_parameters"):
                child.reset_parameters()

    @property
    def device(self) -> torch.device:
        return _model_device(self)

    # ------------------------------------------------------------------ self-description
    @classmethod
    def description(cls) -> str:
        """One line for ``pyagc list``: the first line of the class docstring."""
        doc = inspect.getdoc(cls) if cls.__doc__ else None
        return doc.strip().splitlines()[0].strip() if doc else cls.__name__

    @classmethod
    def accepts_seed(cls) -> bool:
        """Whether the constructor takes a ``seed`` (the runner then passes each run's)."""
        return "seed" in _init_parameters(cls)

    @classmethod
    def build_encoder(cls, encoder_cfg: Mapping[str, Any], in_channels: int) -> Module:
        """The encoder described by the ``model.encoder`` config section:
        ``encoder_factory(in_channels=in_channels, **section)``."""
        from pyagc.encoders import create_tuned_gnn
        factory = cls.encoder_factory or create_tuned_gnn
        try:
            return factory(in_channels=in_channels, **dict(encoder_cfg))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"Bad model.encoder settings for {cls.__name__}: {err}") from None

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], data: Data, n_clusters: int, *,
                    seed: Optional[int] = None) -> "BaseModel":
        """Build the model from the ``model`` section of its config for graph ``data``.

        The default passes the section's keys to the constructor, and on top of them:
        ``encoder`` (a mapping) becomes :meth:`build_encoder` for ``data.num_features``
        inputs; constructor arguments ``hidden_channels`` / ``n_features`` that the section
        leaves out get the encoder's output width; ``n_clusters`` and ``seed`` are passed when
        the constructor takes them and the section does not set them. A key the constructor
        does not take raises :class:`~pyagc.utils.validation.ConfigError` listing the
        accepted ones. Override it when the model needs more from the graph (e.g. Node2Vec's
        edge list).
        """
        kwargs = dict(cfg)
        params = _init_parameters(cls)
        encoder_cfg = kwargs.get("encoder")
        if isinstance(encoder_cfg, Mapping):
            if getattr(data, "x", None) is None:
                raise ValueError(f"{cls.__name__} needs node features, but the graph has none.")
            kwargs["encoder"] = cls.build_encoder(encoder_cfg, int(data.num_features))
        encoder = kwargs.get("encoder")
        if isinstance(encoder, Module) and getattr(encoder, "out_channels", None):
            for name in ("hidden_channels", "n_features"):
                if name in params and name not in kwargs:
                    kwargs[name] = int(encoder.out_channels)
        if "n_clusters" in params and "n_clusters" not in kwargs:
            kwargs["n_clusters"] = int(n_clusters)
        if "seed" in params and kwargs.get("seed") is None and seed is not None:
            kwargs["seed"] = int(seed)
        return _construct(cls, kwargs)

    # ------------------------------------------------------------------ runner steps
    def prepare(self, data: Data) -> None:
        """Once per graph, before training: whole-graph statistics or precomputations a
        model needs (nothing by default)."""

    @property
    def num_hops(self) -> int:
        """Hops of neighbourhood a node's embedding depends on, i.e. what a mini-batch must
        sample: the encoder's ``num_layers`` (1 without an encoder)."""
        encoder = getattr(self, "encoder", None)
        return max(1, int(getattr(encoder, "num_layers", 1) or 1))

    @torch.no_grad()
    def infer_embedding(self, data: Data, loader: Optional[Iterable[Data]] = None,
                        verbose: bool = False) -> Tensor:
        """The embedding the clustering step sees, ``[N, d]``, in eval mode: :meth:`embed`
        on the whole graph, or over the batches of a neighbour ``loader`` (seed rows only)."""
        return self._run_inference(self.embed, data, loader, verbose)

    def predict(self, data: Data, embedding: Tensor,
                loader: Optional[Iterable[Data]] = None) -> Optional[Tensor]:
        """Hard labels ``[N]`` that the model gives itself, or ``None`` (the default for
        decoupled methods): the runner then clusters ``embedding`` with KMeans or with one
        of :attr:`cluster_methods`."""
        return None

    def round_embedding(self, embedding: Tensor, method: str) -> Tensor:
        """Labels ``[N]`` from ``embedding`` by the clustering step ``method``, one of
        :attr:`cluster_methods` (none by default)."""
        known = ", ".join(("kmeans",) + tuple(self.cluster_methods))
        raise ValueError(f"cluster.method {method!r} is not available for "
                         f"{type(self).__name__}; use one of: {known}.")

    @classmethod
    def distributed_refusal(cls) -> Optional[str]:
        """Why the model cannot run on several processes (``--distributed``), or ``None``
        (see :meth:`TrainableModel.distributed_refusal`). A model without training runs: every
        process computes the (same) embedding of the whole graph, and the clustering is
        split between them."""
        return None

    def random_state(self) -> Dict[str, Any]:
        """The states of the model's own seeded random streams (``torch.Generator`` and
        :class:`~pyagc.ops.random.DeviceGenerators` attributes of the model and its
        submodules), so that a resumed run draws what an uninterrupted one would."""
        states: Dict[str, Any] = {}
        for path, module in self.named_modules():
            for attr, value in vars(module).items():
                if isinstance(value, torch.Generator):
                    states[f"{path}.{attr}"] = value.get_state()
                elif isinstance(value, DeviceGenerators):
                    states[f"{path}.{attr}"] = value.state_dict()
        return states

    def set_random_state(self, states: Mapping[str, Any]) -> None:
        """Restore what :meth:`random_state` returned."""
        modules = dict(self.named_modules())
        for key, state in states.items():
            path, _, attr = key.rpartition(".")
            stream = getattr(modules.get(path), attr, None)
            if isinstance(stream, torch.Generator):
                stream.set_state(state)
            elif isinstance(stream, DeviceGenerators):
                stream.load_state_dict(state)

    # ------------------------------------------------------------------ inference
    def _inputs(self, data: Data) -> Dict[str, Any]:
        """The keyword inputs taken from a :class:`Data` object (x, edge_index, edge_weight)."""
        inputs = {"x": data.x, "edge_index": data.edge_index}
        if getattr(data, "edge_weight", None) is not None:
            inputs["edge_weight"] = data.edge_weight
        return inputs

    def _per_hop_inputs(self, batch: Data, keep_hops: int = 0) -> Dict[str, Any]:
        """The per-hop trimming arguments of a neighbour-loader ``batch`` for an encoder that
        supports them (:class:`~pyagc.encoders.TunedGNN`), else none. Only for losses that
        read the seed rows (and the first ``keep_hops`` hops): the other rows come out partial
        or not at all."""
        encoder = getattr(self, "encoder", None)
        if (not getattr(encoder, "supports_per_hop_trimming", False)
                or getattr(batch, "num_sampled_nodes", None) is None
                or getattr(batch, "num_sampled_edges", None) is None):
            return {}
        return {"num_sampled_nodes_per_hop": list(batch.num_sampled_nodes),
                "num_sampled_edges_per_hop": list(batch.num_sampled_edges),
                "keep_hops": keep_hops}

    def _encode_seed_rows(self, batch: Data) -> Tensor:
        """The encoder's rows of a neighbour-loader ``batch``'s seed nodes ``[batch_size, H]``,
        with per-hop trimming where the encoder supports it (only the rows the seeds depend
        on are computed)."""
        z = self.encoder(**self._inputs(batch), **self._per_hop_inputs(batch))
        return first_rows(z, int(batch.batch_size))

    def _infer(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.embed(*args, **kwargs)

    @torch.no_grad()
    def _run_inference(self, fn: Callable[..., Tensor], data: Optional[Data],
               loader: Optional[Iterable[Data]], verbose: bool) -> Tensor:
        """``fn(**inputs)`` in eval mode on ``data``, or on each batch of ``loader`` keeping
        the first ``batch.batch_size`` rows (moved to CPU)."""
        was_training = self.training
        self.eval()
        outputs = []
        try:
            if loader is None:
                return fn(**self._inputs(data.to(self.device)))
            for batch in tqdm(loader, desc="Inference", disable=not verbose, leave=False):
                batch = batch.to(self.device)
                outputs.append(fn(**self._inputs(batch))[:batch.batch_size].cpu())
        finally:
            self.train(was_training)
        if not outputs:
            raise ValueError("infer_batch received an empty loader: give it at least one seed node.")
        return torch.cat(outputs, dim=0)

    def infer_full(self, data: Data) -> Any:
        return self._run_inference(self._infer, data, None, False)

    def infer_batch(self, loader: Iterable[Data], verbose: bool = True) -> Any:
        return self._run_inference(self._infer, None, loader, verbose)


class TrainableModel(BaseModel):
    """A model trained by minimising :meth:`loss`.

    ``loss`` returns a scalar Tensor or a :class:`LossOutput`. ``train_full`` and
    ``train_batch`` run one epoch and raise :class:`FloatingPointError` naming the epoch when
    the loss stops being finite.
    """

    family: ClassVar[str] = "deep-decoupled"
    #: Uniformly drawn edges per root node added to each mini-batch by the default
    #: :meth:`train_loader` (their endpoints join the seeds; ``batch.pos_pairs``), for
    #: losses that read node pairs; ``None``: plain neighbour batches.
    edges_per_root: ClassVar[Optional[float]] = None
    logger = None
    #: The named :class:`LossOutput` components of the last epoch run by :meth:`train_full`
    #: or a mini-batch loop (means over the batches); the runner records them per epoch.
    epoch_components: Dict[str, float] = {}

    def set_logger(self, logger) -> None:
        self.logger = logger

    def _log(self, message: str, verbose: bool) -> None:
        if self.logger is not None:
            self.logger.info(message)
        elif verbose:
            print(message)

    @abstractmethod
    def loss(self, *args: Any, **kwargs: Any) -> Union[Tensor, LossOutput]:
        """The training loss."""

    def loss_batch(self, batch: Data, **kwargs: Any) -> Union[Tensor, LossOutput]:
        """Loss of one mini-batch; by default the full-graph loss on the sampled subgraph."""
        return self.loss(**self._inputs(batch), **kwargs)

    # ------------------------------------------------------------------ runner steps
    def param_groups(self) -> Dict[str, List[Parameter]]:
        """The parameters trained by each optimiser, by name: one group ``'model'`` by
        default. Several groups (e.g. ARGA's ``'discriminator'``) get one optimiser each;
        group ``g`` uses the learning rate ``train.<g>_lr`` when the config sets it."""
        return {"model": list(self.parameters())}

    def train_loader(self, data: Data, *, mini_batch: bool = False, batch_size: int = 1024,
                     fan_out: Union[int, List[int]] = 10, seed: Optional[int] = None,
                     shard: Optional[Tuple[int, int]] = None) -> Any:
        """What one epoch iterates over: the whole graph on the model's device by default,
        or with ``mini_batch`` a :class:`pyagc.sampling.NeighborLoader` over all nodes
        (:attr:`num_hops` hops, ``fan_out`` neighbours per hop, ``batch_size`` seeds,
        shuffled, seeded); in a distributed run (``shard=(rank, world_size)``) over this
        rank's share of each epoch's seeds. With :attr:`edges_per_root` set, each batch
        also holds ``edges_per_root * batch_size`` uniformly drawn edges whose endpoints join
        the seeds (:class:`pyagc.sampling.EdgePairNeighborLoader`). Override for models with
        their own batches (random walks, pairs); such models then do not train distributed
        (:meth:`distributed_refusal`)."""
        if not mini_batch:
            return data.to(self.device)
        from pyagc.sampling import neighbor_loader
        edges = (None if self.edges_per_root is None
                 else max(1, round(self.edges_per_root * batch_size)))
        return neighbor_loader(data, self.num_hops, fan_out, batch_size, shuffle=True,
                               seed=seed, shard=shard, edges_per_batch=edges)

    @classmethod
    def distributed_refusal(cls) -> Optional[str]:
        """Why the model cannot train on several processes (``--distributed``), or ``None``.

        A distributed run splits each epoch's seed nodes between the processes and averages
        the gradients of :meth:`loss_batch` (``DistributedDataParallel``). That holds for a
        model that trains with the default steps: mini-batches from the default
        :meth:`train_loader`, one optimiser through the default :meth:`fit_epoch` /
        :meth:`train_batch`, and the default :meth:`infer_embedding`. A model that overrides
        one of them runs its own batches, optimisers or whole-graph passes, which the
        default split would silently change, so it is refused rather than trained wrongly.
        """
        if not cls.supports_mini_batch:
            return f"it does not train on mini-batches ({cls.family})"
        for step in _DEFAULT_STEPS:
            if getattr(cls, step) is not getattr(TrainableModel, step):
                return (f"it overrides {step}() (its own batches, optimisers or whole-graph "
                        "passes, which a split of the seed nodes between processes would "
                        "change)")
        return None

    def fit_epoch(self, loader: Any, optimizers: Mapping[str, Optimizer], epoch: int,
                  verbose: bool = False, **loss_kwargs: Any) -> float:
        """One training epoch over what :meth:`train_loader` returned, with one optimiser per
        :meth:`param_groups` entry; returns the epoch's loss. The default is
        :meth:`train_full` on a whole graph and :meth:`train_batch` on a loader."""
        optimizer = optimizers["model"]
        if isinstance(loader, Data):
            return self.train_full(loader, optimizer, epoch, verbose=False, **loss_kwargs)
        return self.train_batch(loader, optimizer, epoch, verbose=verbose, **loss_kwargs)

    def _step(self, optimizer: Optimizer, out: Union[Tensor, LossOutput], epoch: int,
              where: str) -> LossOutput:
        out = _split_loss(out)
        _check_finite(out.total, epoch, where)
        optimizer.zero_grad(set_to_none=True)
        out.total.backward()
        optimizer.step()
        # Nothing reads the gradients after the step: free them now rather than at the next
        # step, so they are not held through an epoch's end (best-state copy, inference) --
        # a dense [N, H] table's gradient is 2.5 GB at Products size.
        optimizer.zero_grad(set_to_none=True)
        return out

    def train_full(self, data: Data, optimizer: Optimizer, epoch: int, verbose: bool = True,
                   **loss_kwargs: Any) -> float:
        self.train()
        data = data.to(self.device)
        out = self._step(optimizer, self.loss(**self._inputs(data), **loss_kwargs), epoch,
                         "full batch")
        self.epoch_components = dict(out.components)
        self._log(out.log_string(f"Epoch {epoch:03d}: "), verbose)
        return float(out.total.detach())

    def train_batch(self, loader: Iterable[Data], optimizer: Optimizer, epoch: int,
                    verbose: bool = True, **loss_kwargs: Any) -> float:
        return self._train_epoch(
            loader, lambda batch: self._batch_loss(batch.to(self.device), **loss_kwargs),
            optimizer, epoch, verbose)

    def _batch_loss(self, batch: Data, **loss_kwargs: Any) -> Union[Tensor, LossOutput]:
        """:meth:`loss_batch`, through the ``DistributedDataParallel`` wrapper a distributed
        run installs (:func:`pyagc.runner.distributed.data_parallel`), so that the backward
        pass averages the gradients over the processes."""
        wrapper = self.__dict__.get("_data_parallel")
        if wrapper is None:
            return self.loss_batch(batch, **loss_kwargs)
        # The wrapper's own output tensor: its backward is what triggers the averaging.
        total, out = wrapper(batch, **loss_kwargs)
        return LossOutput(total, out.components)

    def _train_epoch(self, batches: Iterable[Any], batch_loss: Callable[[Any], Any],
                     optimizer: Optimizer, epoch: int, verbose: bool) -> float:
        """One optimiser step per item of ``batches`` (loss from ``batch_loss(item)``); logs and
        returns the epoch's mean loss. Shared by every mini-batch training loop."""
        self.train()
        total, count = 0.0, 0
        components: Dict[str, float] = {}
        for i, batch in enumerate(tqdm(batches, desc=f"Epoch {epoch:03d}", disable=not verbose,
                                       leave=False)):
            out = self._step(optimizer, batch_loss(batch), epoch, f"batch {i}")
            total += float(out.total.detach())
            count += 1
            for name, value in out.components.items():
                components[name] = components.get(name, 0.0) + value
        if count == 0:
            raise ValueError("The training loader is empty: give it at least one seed node.")
        mean = LossOutput(torch.tensor(total / count),
                          {name: value / count for name, value in components.items()})
        self.epoch_components = dict(mean.components)
        self._log(mean.log_string(f"Epoch {epoch:03d}: "), verbose)
        return total / count


class ClusteringModel(TrainableModel):
    """A jointly trained model whose :meth:`forward` returns hard cluster labels ``[num_nodes]``.

    Subclasses implement ``embed`` (embeddings), ``forward`` (labels) and ``loss``; they
    expose their cluster head as ``self.cluster_head`` with ``reset_cluster_centers`` when they
    support :meth:`initialize_cluster_centers`.
    """

    family: ClassVar[str] = "deep-joint"

    @abstractmethod
    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        """Hard cluster assignments of shape ``[num_nodes]``."""

    def _infer(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.forward(*args, **kwargs)

    @torch.no_grad()
    def predict(self, data: Data, embedding: Tensor,
                loader: Optional[Iterable[Data]] = None) -> Tensor:
        """Hard labels ``[N]``: the cluster head's ``cluster(embedding)`` when the head has
        one (``forward`` is "encode, then the head" for such models, so the graph is encoded
        only once), else :meth:`forward` on the graph (or over ``loader``)."""
        head = getattr(self, "cluster_head", None)
        if head is None or not hasattr(head, "cluster"):
            return self._run_inference(self._infer, data, loader, False).view(-1)
        was_training = self.training
        self.eval()
        try:
            return head.cluster(embedding.to(self.device)).view(-1).cpu()
        finally:
            self.train(was_training)

    # ------------------------------------------------------------------ head start
    def _register_head_start(self, head_init: str) -> None:
        """Remember how the soft-assignment head starts: ``'kmeans'`` (at a soft KMeans
        partition of the untrained encoder's embedding, on the first training step; see
        :meth:`_embed_for_loss`) or ``'random'`` (its own initialisation). The flag is part
        of the state dict, so a restored model is not re-initialised."""
        if head_init not in HEAD_INITS:
            raise ValueError(f"head_init must be one of {', '.join(map(repr, HEAD_INITS))}, "
                             f"got {head_init!r}.")
        self.head_init = head_init
        self.register_buffer("head_started", torch.tensor(head_init != "kmeans"))
        # Checkpoints written before the flag existed hold a trained head: keep it.
        self._register_load_state_dict_pre_hook(_default_head_started)

    def _reset_head_start(self) -> None:
        if getattr(self, "head_started", None) is not None:
            self.head_started.fill_(self.head_init != "kmeans")

    def _embed_for_loss(self, embed: Callable[[], Tensor]) -> Tensor:
        """``embed()`` for a training loss (the whole graph, or a batch's seed nodes). With
        ``head_init='kmeans'`` the first call also starts the head: ``embed()`` in eval mode
        without gradient, then ``cluster_head.start_from_kmeans`` on it, seeded from torch's
        initial seed (so :func:`pyagc.utils.set_seed` fixes it). Under ``torch.distributed``
        rank 0's head is broadcast, so every process starts from the same one."""
        started = getattr(self, "head_started", None)
        if started is not None and not bool(started):
            was_training = self.training
            self.eval()
            try:
                with torch.no_grad():
                    z = embed()
            finally:
                self.train(was_training)
            self.cluster_head.start_from_kmeans(z, random_state=int(torch.initial_seed() % 2 ** 31))
            if dist_utils.is_distributed():
                with torch.no_grad():
                    for param in self.cluster_head.parameters():
                        param.copy_(dist_utils.broadcast(param, what="cluster head start"))
            started.fill_(True)
        return embed()

    @torch.no_grad()
    def initialize_cluster_centers(self, data: Data, num_layers: int,
                                   train_idx: Optional[Tensor] = None, batch_size: int = 4096,
                                   fan_out: int = -1, method: str = "kmeans",
                                   verbose: bool = True) -> Tensor:
        """Set the cluster head's centres from KMeans on the current embeddings.

        Without ``train_idx`` the whole graph is embedded in one pass. With ``train_idx`` (the
        way to initialise on a graph too large for one pass) only those nodes are embedded, by
        mini-batch inference over ``num_layers``-hop neighbourhoods sampled with ``fan_out``
        neighbours per hop (``-1``: all), and clustered. KMeans is seeded from torch's global
        seed (``pyagc.utils.set_seed``).
        Returns the centres, shape ``[n_clusters, hidden]``.
        """
        if method != "kmeans":
            raise ValueError(f"Unknown initialisation method {method!r}; the supported one is 'kmeans'.")
        head = getattr(self, "cluster_head", None)
        if head is None or not hasattr(head, "reset_cluster_centers"):
            raise TypeError(f"{type(self).__name__} has no cluster head with centres to initialise.")
        loader = None
        if train_idx is not None:
            from pyagc.sampling import NeighborLoader
            loader = NeighborLoader(data, num_neighbors=[fan_out] * num_layers,
                                    input_nodes=train_idx, batch_size=batch_size)
        z = self.infer_embedding(data, loader, verbose=verbose).to(self.device)
        from pyagc.clusters import TorchKMeans
        kmeans = TorchKMeans(n_clusters=head.n_clusters, n_init=10,
                             random_state=int(torch.initial_seed() % (2 ** 31)))
        kmeans.fit_predict(z.detach())
        centers = kmeans.cluster_centers_.to(z.device)
        head.reset_cluster_centers(centers)
        return centers


#: How a joint model's soft-assignment head may start (``head_init``).
HEAD_INITS = ("kmeans", "random")


def _default_head_started(state_dict: Dict[str, Any], prefix: str, *args: Any) -> None:
    state_dict.setdefault(prefix + "head_started", torch.tensor(True))


#: The steps a model must keep at their defaults to train distributed (see
#: :meth:`TrainableModel.distributed_refusal`).
_DEFAULT_STEPS = ("train_loader", "fit_epoch", "train_batch", "infer_embedding")


def check_finite_loss(loss: Tensor, epoch: int) -> None:
    """Raise a clear error when ``loss`` is NaN or infinite (for custom training loops)."""
    _check_finite(loss, epoch, "custom step")


__all__ = ["FAMILIES", "LossOutput", "BaseModel", "TrainableModel", "ClusteringModel",
           "check_finite_loss"]
