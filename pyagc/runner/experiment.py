"""One experiment: load a graph, then for each run build, train, embed/predict, cluster and
score a method; aggregate the runs and write the results folder."""
from __future__ import annotations

import logging
import numbers
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Type, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from pyagc.encoders import layerwise_inference
from pyagc.runner.checkpoint import CheckpointManager
from pyagc.runner.config import resolve_config
from pyagc.runner.distributed import check_distributed, edges_of_block, node_block
from pyagc.runner.keys import LABEL_METRICS, STRUCTURE_METRICS, TIME_KEYS
from pyagc.models import BaseModel, TrainableModel
from pyagc.runner.recipe import EpochCallback, train_model, uses_layerwise_inference
from pyagc.runner.registry import get_method
from pyagc.sampling import neighbor_loader
from pyagc.utils import distributed as dist_utils
from pyagc.utils.validation import check_scalar

SYNTHETIC = "Synthetic"


def default_root() -> str:
    """Where named datasets are read from / downloaded to: ``$PYAGC_DATA`` or
    ``~/.cache/pyagc/data``."""
    return os.environ.get("PYAGC_DATA") or os.path.join(os.path.expanduser("~"), ".cache",
                                                         "pyagc", "data")


# --------------------------------------------------------------------------- data
def load_data(dataset: Optional[str] = None, graph: Optional[Sequence[str]] = None,
              root: Optional[str] = None, data_cfg: Optional[Dict[str, Any]] = None
              ) -> tuple:
    """``(Data, name)`` from a named dataset, a user's files, or the synthetic default.

    ``graph`` is ``[EDGES]``, ``[EDGES, FEATURES]`` or ``[EDGES, FEATURES, LABELS]`` file
    paths (see :func:`pyagc.data.load_graph`). Without both, a contextual SBM is generated
    from ``data_cfg`` (:func:`pyagc.data.make_csbm`). A named dataset reads
    ``data_cfg['normalize_features']`` (default true; see :func:`pyagc.data.get_dataset`).
    """
    from pyagc.data import get_dataset, load_graph, make_csbm
    if dataset is not None and graph:
        raise ValueError("Give either a dataset name or graph files, not both.")
    if graph:
        if len(graph) > 3:
            raise ValueError("--graph takes EDGES [FEATURES [LABELS]] (at most 3 paths), got "
                             f"{len(graph)}.")
        for path in graph:
            if not os.path.exists(path):
                raise FileNotFoundError(f"Graph file {path!r} does not exist.")
        edges, features, labels = (list(graph) + [None, None])[:3]
        data = load_graph(edges, features=features, labels=labels)
        return data, os.path.splitext(os.path.basename(edges))[0]
    if dataset is None or dataset.lower() in ("synthetic", "csbm"):
        cfg = dict(data_cfg or {})
        # No int()/float() here: make_csbm checks the values (2.5 nodes is an error, not 2).
        data = make_csbm(cfg.get("num_nodes", 2000), cfg.get("n_clusters", 5),
                         avg_degree=cfg.get("avg_degree", 8.0),
                         homophily=cfg.get("homophily", 0.7),
                         num_features=cfg.get("num_features", 64),
                         features=cfg.get("features", "gaussian"),
                         feature_signal=cfg.get("feature_signal", 0.25),
                         seed=cfg.get("seed", 0))
        return data, SYNTHETIC
    normalize = (data_cfg or {}).get("normalize_features", True)
    x, edge_index, y = get_dataset(dataset, root or default_root(), normalize_features=normalize)
    from pyagc.data import available_datasets
    name = next((d for d in available_datasets() if d.lower() == dataset.lower()), dataset)
    return Data(x=x, edge_index=edge_index, y=y, num_nodes=x.size(0)), name


def is_graph_tuple(data: Any) -> bool:
    """Whether ``data`` is an ``(x, edge_index[, y])`` tuple (or list): 2 or 3 items whose
    second is a 2-D tensor or array, as :func:`pyagc.data.get_dataset` returns. Any other
    sequence is an edge list."""
    return (isinstance(data, (tuple, list)) and 2 <= len(data) <= 3
            and isinstance(data[1], (Tensor, np.ndarray)) and data[1].ndim == 2)


def as_data(data: Any) -> Data:
    """Accept a :class:`Data`, an ``(x, edge_index[, y])`` tuple (tensors or NumPy arrays; ``x``
    may be ``None``), or anything :func:`pyagc.data.load_graph` reads (files, arrays, networkx
    graphs).

    A tuple becomes a :class:`Data` first, so that every route goes through the same checks
    (:func:`pyagc.data.load_graph` → :func:`pyagc.data.validate_graph`): its ``edge_index``
    must be ``[2, E]`` (PyG's layout; a third row is refused, not read as weights).
    """
    from pyagc.data import load_graph
    if is_graph_tuple(data):
        x, edge_index = data[0], data[1]
        y = data[2] if len(data) == 3 else None
        graph = Data(edge_index=edge_index)
        if x is not None:
            graph.x = x
            graph.num_nodes = len(x) if not hasattr(x, "shape") else x.shape[0]
        if y is not None:
            graph.y = y
        return load_graph(graph)
    return load_graph(data)


def labels_of(data: Data) -> Optional[Tensor]:
    y = getattr(data, "y", None)
    if y is None or y.numel() != data.num_nodes or not bool((y >= 0).any()):
        return None
    return y.view(-1).long()


def resolve_n_clusters(data: Data, requested: Optional[int]) -> int:
    """``requested`` (an integer in ``[1, num_nodes]``), or the number of classes in the
    graph's labels when it is ``None``.

    Raises:
        ScalarTypeError: ``requested`` is not an integer (``2.5``, ``'three'``).
        ValueError: it is out of range, or ``None`` on a graph without labels.
    """
    if requested is None:
        y = labels_of(data)
        if y is None:
            raise ValueError("The graph has no labels, so the number of clusters is unknown: "
                             "give it with --n-clusters K (or --set cluster.n_clusters=K).")
        k = int(torch.unique(y[y >= 0]).numel())
    else:
        k = int(check_scalar(requested, "n_clusters", numbers.Integral, min_val=1))
    if k < 1:
        raise ValueError(f"The number of clusters must be at least 1, got {k}.")
    if k > data.num_nodes:
        raise ValueError(f"The number of clusters ({k}) is larger than the number of nodes "
                         f"({data.num_nodes}); choose k <= {data.num_nodes}.")
    return k


def resolve_device(device: Optional[str]) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"Unknown device {device!r}; use cpu, cuda or cuda:N.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but CUDA is not available in this "
                         "PyTorch installation; use --device cpu.")
    return dev


# --------------------------------------------------------------------------- one run
@dataclass
class RunResult:
    """The outcome of one run (one seed)."""

    run: int
    seed: int
    labels: Tensor
    embedding: Optional[Tensor]
    metrics: Dict[str, float]
    times: Dict[str, float]
    memory_mb: float
    history: List[Dict[str, Any]] = field(default_factory=list)
    model: Any = None
    #: the run whose embedding this run reused (its train/inference times are that run's);
    #: ``None`` when this run computed its own.
    embedding_from: Optional[int] = None

    def record(self) -> Dict[str, Any]:
        """The JSON-friendly part of the result."""
        out = {"run": self.run, "seed": self.seed, "metrics": self.metrics,
               "times": self.times, "memory_mb": self.memory_mb,
               "epochs": len(self.history),
               "final_loss": self.history[-1]["loss"] if self.history else None}
        if self.embedding_from is not None:
            out["embedding_from"] = self.embedding_from
        return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory allocated (CUDA) or the process's peak resident set size (CPU), MB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2 ** 20 if sys.platform == "darwin" else rss / 1024.0


def cluster_embedding(z: Tensor, n_clusters: int, cluster_cfg: Dict[str, Any], seed: int,
                      verbose: bool = False, distributed: bool = False) -> Tensor:
    """KMeans (:class:`pyagc.clusters.KMeansClusterHead`) on (L2-normalised) embeddings;
    ``distributed``: ``z`` is this rank's row block and the KMeans runs over all ranks'
    blocks (:class:`pyagc.clusters.TorchKMeans` ``distributed=True``), returning this block's
    labels."""
    from pyagc.clusters import KMeansClusterHead
    z = z.detach().float()
    if z.dim() != 2:
        raise ValueError(f"Embeddings must be [num_nodes, dim], got {list(z.shape)}.")
    if not torch.isfinite(z).all():
        raise FloatingPointError("The embeddings hold NaN or inf values; the model diverged "
                                 "(lower the learning rate or the number of epochs).")
    if cluster_cfg.get("normalize_embeddings", True):
        z = F.normalize(z, p=2, dim=1)
    head = KMeansClusterHead(n_clusters, backend=cluster_cfg["backend"],
                             n_init=cluster_cfg["n_init"], max_iter=cluster_cfg["max_iter"],
                             random_state=seed, verbose=verbose,
                             sample_size=cluster_cfg.get("sample_size", "auto"),
                             refine_tol=cluster_cfg.get("refine_tol", 1e-4),
                             distributed=distributed)
    return head.fit_predict(z).cpu()


def _check_cluster_method(cls: Type[BaseModel], cluster_cfg: Dict[str, Any]) -> str:
    method = str(cluster_cfg.get("method", "kmeans")).lower()
    if method != "kmeans" and method not in cls.cluster_methods:
        known = ", ".join(["kmeans", *cls.cluster_methods])
        raise ValueError(f"cluster.method {method!r} is not available for {cls.__name__}; "
                         f"use one of: {known}.")
    return method


def _cluster(model: BaseModel, z: Tensor, n_clusters: int, cluster_cfg: Dict[str, Any],
             seed: int, verbose: bool, distributed: bool = False) -> Tensor:
    """Labels of the rows of ``z`` (with ``distributed``, this rank's block)."""
    method = _check_cluster_method(type(model), cluster_cfg)
    if method == "kmeans":
        return cluster_embedding(z, n_clusters, cluster_cfg, seed, verbose, distributed)
    if not distributed:
        return model.round_embedding(z, method).view(-1).long().cpu()
    # Other clustering steps see the whole embedding: rank 0 runs it, the others take its
    # labels of their block.
    z = dist_utils.all_gather_rows(z.detach().cpu(), what="gather embeddings")
    labels = model.round_embedding(z, method).view(-1).long().cpu() \
        if dist_utils.is_main_process() else torch.empty(z.size(0), dtype=torch.long)
    start, end = dist_utils.row_block(z.size(0))
    return dist_utils.broadcast(labels, what="cluster labels")[start:end]


def score(data: Data, labels: Tensor, distributed: bool = False) -> Dict[str, float]:
    """Label metrics (when the graph has labels) and structure metrics of ``labels [N]``;
    ``distributed``: every rank holds all labels and counts the edges of its node block."""
    from pyagc.metrics import label_metrics, structure_metrics
    metrics: Dict[str, float] = {}
    y = labels_of(data)
    if y is not None:
        metrics.update(label_metrics(y.cpu(), labels.cpu(), LABEL_METRICS))
    edges = edges_of_block(data) if distributed else data.edge_index
    metrics.update(structure_metrics(edges.cpu(), labels.cpu(), STRUCTURE_METRICS,
                                     distributed=distributed))
    return metrics


def reuses_embedding(cls: Type[BaseModel], config: Dict[str, Any]) -> bool:
    """Whether every run of ``cls`` computes the same embedding, so that only the clustering
    (KMeans with each run's seed) has to be repeated: an untrained decoupled model that takes
    no seed, or whose seed the config fixes (``model.seed``)."""
    return (not issubclass(cls, TrainableModel) and cls.family != "deep-joint"
            and (not cls.accepts_seed() or config["model"].get("seed") is not None))


@dataclass
class EmbeddingCache:
    """The embedding of the first computed run, shared by the later runs of a method for which
    :func:`reuses_embedding` holds (filled by :func:`run_once`)."""

    model: Any = None
    embedding: Optional[Tensor] = None
    run: Optional[int] = None
    t_train: float = 0.0
    t_infer: float = 0.0


def fit_embedding(cls: Type[BaseModel], data: Data, config: Dict[str, Any], n_clusters: int,
                  *, seed: int, device: torch.device, mini_batch: bool = False,
                  checkpoint_dir: Optional[str] = None, resume: bool = False,
                  logger: Optional[logging.Logger] = None, verbose: bool = False,
                  callbacks: Optional[List[EpochCallback]] = None,
                  distributed: bool = False) -> tuple:
    """Build, prepare, train (trainable models) and run inference of ``cls`` once, through
    the model contract: ``(model, embedding [N, d] on the CPU, labels [N] or None (decoupled
    models), history, train seconds, inference seconds)``. The caller has seeded the run.

    ``distributed``: the embedding and labels are this rank's block of nodes
    (:func:`~pyagc.runner.distributed.node_block`)."""
    logger = logger or logging.getLogger("pyagc.runner")
    start = time.perf_counter()
    model = cls.from_config(config["model"], data, n_clusters, seed=seed).to(device)
    model.prepare(data)
    history: List[Dict[str, Any]] = []
    if isinstance(model, TrainableModel):
        checkpoints = CheckpointManager(checkpoint_dir) if checkpoint_dir else None
        state = train_model(model, data, config, mini_batch=mini_batch, seed=seed,
                            checkpoints=checkpoints, resume=resume, logger=logger,
                            verbose=verbose, callbacks=callbacks, distributed=distributed)
        history = state.history
    _sync(device)
    t_train = time.perf_counter() - start

    t0 = time.perf_counter()
    loader = None
    train_cfg = config["train"]
    layerwise = mini_batch and uses_layerwise_inference(train_cfg)
    # Distributed: each rank embeds its block of nodes (layer-wise inference embeds the whole
    # graph on every rank, then keeps the block).
    block = node_block(data) if distributed else None
    if mini_batch and not layerwise:
        loader = neighbor_loader(data, model.num_hops, train_cfg["inference_fan_out"],
                                 train_cfg["inference_batch_size"], shuffle=False, seed=seed,
                                 input_nodes=block)
    with layerwise_inference(model, train_cfg["layerwise_batch_size"], enabled=layerwise):
        embedding = model.infer_embedding(data, loader, verbose=verbose).detach().cpu()
        if distributed and loader is None:
            embedding = embedding[block]
        labels = model.predict(data, embedding, loader)
        if distributed and labels is not None and labels.numel() != block.numel():
            labels = labels.view(-1)[block]  # a whole-graph pass: keep this rank's block
    _sync(device)
    t_infer = time.perf_counter() - t0
    return model, embedding, labels, history, t_train, t_infer


def run_once(method: Union[str, Type[BaseModel]], data: Data, config: Dict[str, Any], *,
             run: int = 0, seed: int = 0, device: Union[str, torch.device] = "cpu",
             mini_batch: bool = False, checkpoint_dir: Optional[str] = None,
             resume: bool = False, logger: Optional[logging.Logger] = None,
             verbose: bool = True, keep_embedding: bool = True,
             callbacks: Optional[List[EpochCallback]] = None,
             embedding_cache: Optional[EmbeddingCache] = None,
             distributed: bool = False) -> RunResult:
    """Build, train, embed/predict, cluster and score ``method`` once with ``seed``.

    The model is driven through its contract only (:mod:`pyagc.models.base`):
    ``from_config`` → ``prepare`` → (trainable models) the training recipe →
    ``infer_embedding`` → ``predict``, and KMeans (or one of its ``cluster_methods``) on the
    embedding when ``predict`` gives no labels.

    With an ``embedding_cache`` (only valid when :func:`reuses_embedding` holds) the first call
    fills it and later calls skip build and inference, reusing its model and embedding; only
    the clustering runs again with ``seed``. Such a reused run reports the train and inference
    times measured when the embedding was computed (the cost of one run of the method, so the
    per-run means stay comparable with methods that recompute), and its record says which run
    it reused (``embedding_from``).

    ``distributed`` (every rank of a ``torch.distributed`` process group calls this with the
    same graph and config; see :func:`run_experiment`): training splits each epoch's seed
    nodes between the ranks (:func:`~pyagc.runner.recipe.train_model`), each rank infers the
    embedding of its block of nodes, KMeans runs over the blocks, and every rank ends with
    all labels and the same metrics.
    """
    from pyagc.utils import set_seed
    cls = get_method(method)
    name = cls.__name__
    logger = logger or logging.getLogger("pyagc.runner")
    device = torch.device(device)
    n_clusters = resolve_n_clusters(data, config["cluster"]["n_clusters"])
    if cls.needs_features and getattr(data, "x", None) is None:
        raise ValueError(f"{name} needs node features, but the graph has none; pass a "
                         "features file as the second --graph path.")
    if mini_batch and not cls.supports_mini_batch:
        raise ValueError(f"{name} does not support --mini-batch training "
                         f"({cls.family}); run it without --mini-batch.")
    if distributed:
        check_distributed(cls, mini_batch)
    if embedding_cache is not None and not reuses_embedding(cls, config):
        raise ValueError(f"{name} computes a different embedding in every run; it cannot "
                         "share one through an embedding cache.")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    set_seed(seed)
    if embedding_cache is not None and embedding_cache.embedding is not None:
        logger.info("Run %d reuses the embedding of run %d (deterministic %s); only the "
                    "clustering is repeated.", run, embedding_cache.run, name)
        return _finish(embedding_cache.model, data, embedding_cache.embedding, None, config,
                       run=run, seed=seed, device=device, logger=logger, verbose=verbose,
                       keep_embedding=keep_embedding, history=[],
                       t_train=embedding_cache.t_train, t_infer=embedding_cache.t_infer,
                       embedding_from=embedding_cache.run, distributed=distributed)
    model, embedding, labels, history, t_train, t_infer = fit_embedding(
        cls, data, config, n_clusters, seed=seed, device=device, mini_batch=mini_batch,
        checkpoint_dir=checkpoint_dir, resume=resume, logger=logger, verbose=verbose,
        callbacks=callbacks, distributed=distributed)
    if embedding_cache is not None:
        embedding_cache.model, embedding_cache.embedding, embedding_cache.run = \
            model, embedding, run
        embedding_cache.t_train, embedding_cache.t_infer = t_train, t_infer
    return _finish(model, data, embedding, labels, config, run=run, seed=seed, device=device,
                   logger=logger, verbose=verbose, keep_embedding=keep_embedding,
                   history=history, t_train=t_train, t_infer=t_infer, distributed=distributed)


def _finish(model: BaseModel, data: Data, embedding: Tensor, labels: Optional[Tensor],
            config: Dict[str, Any], *, run: int, seed: int, device: torch.device,
            logger: logging.Logger, verbose: bool, keep_embedding: bool,
            history: List[Dict[str, Any]], t_train: float, t_infer: float,
            embedding_from: Optional[int] = None, distributed: bool = False) -> RunResult:
    """Cluster the embedding (unless the model gave its own ``labels``), score and package
    one run. ``distributed``: ``embedding`` and ``labels`` are this rank's block; the labels
    of all blocks are gathered on every rank, the embedding (when kept) on rank 0 only."""
    n_clusters = resolve_n_clusters(data, config["cluster"]["n_clusters"])
    t0 = time.perf_counter()
    if labels is None:
        labels = _cluster(model, embedding, n_clusters, config["cluster"], seed, verbose,
                          distributed)
    labels = labels.view(-1).long().cpu()
    if distributed:
        labels = dist_utils.all_gather_rows(labels, what="gather labels")
        # The whole embedding only where it is written (rank 0).
        embedding = dist_utils.gather_rows(embedding, what="gather embeddings") \
            if keep_embedding else None
    _sync(device)
    t_cluster = time.perf_counter() - t0
    if labels.numel() != data.num_nodes:
        raise RuntimeError(f"{type(model).__name__} returned {labels.numel()} labels for "
                           f"{data.num_nodes} nodes.")

    metrics = score(data, labels, distributed)
    times = {"train": t_train, "inference": t_infer, "clustering": t_cluster,
             "total": t_train + t_infer + t_cluster}
    logger.info("Run %d (seed %d): %s | %s", run, seed,
                ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()),
                ", ".join(f"{k}={v:.2f}s" for k, v in times.items()))
    return RunResult(run=run, seed=seed, labels=labels,
                     embedding=embedding if keep_embedding else None,
                     metrics=metrics, times=times, memory_mb=peak_memory_mb(device),
                     history=history, model=model, embedding_from=embedding_from)


# --------------------------------------------------------------------------- aggregate
def summarize(records: List[Dict[str, Any]]) -> Dict[str, Dict[str, float]]:
    """Mean and (population) std over runs of every metric, time and the peak memory."""
    import numpy as np
    out: Dict[str, Dict[str, float]] = {}
    keys = [k for k in (*LABEL_METRICS, *STRUCTURE_METRICS) if all(k in r["metrics"]
                                                                   for r in records)]
    for key in keys:
        values = np.array([r["metrics"][key] for r in records], dtype=float)
        out[key] = {"mean": float(values.mean()), "std": float(values.std())}
    for key in TIME_KEYS:
        values = np.array([r["times"][key] for r in records], dtype=float)
        out[f"time_{key}"] = {"mean": float(values.mean()), "std": float(values.std())}
    values = np.array([r["memory_mb"] for r in records], dtype=float)
    out["memory_mb"] = {"mean": float(values.mean()), "std": float(values.std())}
    return out


@dataclass
class ExperimentResult:
    """All runs of one method on one graph."""

    method: str
    family: str
    dataset: str
    config: Dict[str, Any]
    records: List[Dict[str, Any]]
    summary: Dict[str, Dict[str, float]]
    device: str
    out_dir: Optional[str] = None
    last: Optional[RunResult] = None
    num_nodes: int = 0
    num_edges: int = 0
    n_clusters: int = 0
    num_features: int = 0
    #: the number of classes in the graph's labels (0 without labels)
    num_classes: int = 0


def run_experiment(method: Union[str, Type[BaseModel]], *, dataset: Optional[str] = None,
                   graph: Optional[Sequence[str]] = None, data: Optional[Any] = None,
                   root: Optional[str] = None, runs: int = 1, seed: int = 0,
                   device: Optional[str] = "cpu", mini_batch: bool = False,
                   config_file: Optional[str] = None,
                   overrides: Union[Sequence[str], Dict[str, Any], None] = None,
                   n_clusters: Optional[int] = None, out_dir: Optional[str] = None,
                   resume: bool = False, verbose: bool = True, plot: bool = False,
                   projection: str = "tsne", save_labels: bool = False,
                   callbacks: Optional[List[EpochCallback]] = None,
                   echo: Optional[Callable[[str], None]] = None,
                   distributed: bool = False) -> ExperimentResult:
    """The whole pipeline for ``runs`` seeds (``seed + run``); see ``pyagc run --help``.

    ``data`` is anything :func:`as_data` accepts; ``runs`` and ``n_clusters`` are integers
    ``>= 1``, ``seed`` an integer ``>= 0``. With ``out_dir`` the results folder is written
    (:mod:`pyagc.runner.outputs`), ``report.html`` included; ``plot`` adds each run's figures
    (:mod:`pyagc.runner.plots`; ``projection`` ``'tsne'`` or ``'pca'`` for the embedding map).

    ``distributed=True``: every process of a ``torchrun`` job calls this with the same
    arguments (``torchrun --nproc_per_node=N -m pyagc run MODEL --mini-batch --distributed``);
    it joins the process group (:func:`pyagc.utils.distributed.init_distributed`: gloo on
    CPU, NCCL and ``cuda:LOCAL_RANK`` on GPU) unless one exists, every rank loads the graph,
    training splits each epoch's seed nodes between the ranks with gradients averaged by
    ``DistributedDataParallel``, inference and KMeans are split by blocks of nodes, and only
    rank 0 writes the results folder and checkpoints, prints and logs (every rank returns the
    same metrics). ``resume`` continues from rank 0's checkpoints (a shared folder on several
    machines). See ``docs/distributed.md``.

    Raises:
        ScalarTypeError, ValueError: a bad argument, config value or graph (one message each).
        ConfigError: a config file or override that cannot be used.
        FileNotFoundError, NotADirectoryError: a missing input, a results folder that is a file.
        DistributedError: ``distributed`` outside ``torchrun``, or a process of the job died.
    """
    cls = get_method(method)
    check_scalar(distributed, "distributed", bool)
    created = dist_utils.init_distributed(resolve_device(device)) if distributed else False
    try:
        return _experiment(cls, dataset=dataset, graph=graph, data=data, root=root, runs=runs,
                           seed=seed, device=device, mini_batch=mini_batch,
                           config_file=config_file, overrides=overrides, n_clusters=n_clusters,
                           out_dir=out_dir, resume=resume, verbose=verbose, plot=plot,
                           projection=projection, save_labels=save_labels,
                           callbacks=callbacks, echo=echo, distributed=distributed)
    finally:
        if created:
            dist_utils.shutdown()


def _experiment(cls: Type[BaseModel], *, dataset, graph, data, root, runs, seed, device,
                mini_batch, config_file, overrides, n_clusters, out_dir, resume, verbose, plot,
                projection, save_labels, callbacks, echo,
                distributed: bool) -> ExperimentResult:
    from pyagc.runner.outputs import ResultsWriter
    check_scalar(runs, "runs", numbers.Integral, min_val=1)
    check_scalar(seed, "seed", numbers.Integral, min_val=0)
    check_scalar(mini_batch, "mini_batch", bool)
    check_scalar(resume, "resume", bool)
    if n_clusters is not None:
        check_scalar(n_clusters, "n_clusters", numbers.Integral, min_val=1)
    if resume and not out_dir:
        raise ValueError("--resume needs --out DIR, the results folder of the interrupted run.")
    if plot:
        from pyagc.runner.plots import check_projection, require_matplotlib
        require_matplotlib()
        projection = check_projection(projection)
    dev = resolve_device(device)
    main = not distributed or dist_utils.is_main_process()
    if distributed:
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        # One results folder (rank 0's: a default name holds the time it was chosen).
        out_dir = dist_utils.broadcast_object(out_dir, what="results folder")
        verbose, echo = verbose and main, echo if main else None
    dataset_key = None if (graph or data is not None) else (dataset or SYNTHETIC)
    config = resolve_config(cls.__name__, dataset_key, config_file, overrides)
    if n_clusters is not None:
        config["cluster"]["n_clusters"] = int(n_clusters)
    if data is not None:
        graph_data, name = as_data(data), "data"
    else:
        graph_data, name = load_data(dataset, graph, root, config["data"])
    # Keep in the recorded config only the data keys that were used.
    if dataset_key is None:
        config.pop("data", None)
    elif name != SYNTHETIC:
        config["data"] = {"normalize_features": config["data"]["normalize_features"]}
    else:
        config["data"].pop("normalize_features", None)
    k = resolve_n_clusters(graph_data, config["cluster"]["n_clusters"])  # fail before training
    _check_cluster_method(cls, config["cluster"])
    mini_batch = bool(mini_batch or config["train"].get("mini_batch", False))
    if distributed:
        check_distributed(cls, mini_batch)
    config["train"]["mini_batch"] = mini_batch
    config = {"method": cls.__name__, "dataset": name, **config}

    # Only rank 0 writes; the other ranks read its checkpoints to resume.
    writer = ResultsWriter(out_dir, resume=resume) if out_dir and main else None
    checkpoint_root = os.path.join(os.path.abspath(out_dir), "checkpoints") if out_dir else None
    # Without a results folder the messages go to the "pyagc.runner" logger (silent unless the
    # user configures logging); with one, to <out>/run.log.
    logger = logging.getLogger("pyagc.runner")
    if writer is not None:
        writer.check_or_write_config(config)
        from pyagc.utils import get_logger
        logger = get_logger(writer.path("run.log"), name=f"pyagc.run.{writer.out_dir}")
    logger.info("%s on %s (%d nodes, %d edges) on %s, %d run(s) from seed %d.", cls.__name__,
                name, graph_data.num_nodes, graph_data.edge_index.size(1), dev, runs, seed)

    try:
        records, last = _run_all(cls, graph_data, config, runs=int(runs), seed=int(seed),
                                 device=dev, mini_batch=mini_batch, writer=writer,
                                 resume=resume, logger=logger, verbose=verbose,
                                 plot=projection if plot else None,
                                 save_labels=save_labels, callbacks=callbacks, echo=echo,
                                 checkpoint_root=checkpoint_root, distributed=distributed)
        out = ExperimentResult(method=cls.__name__, family=cls.family, dataset=name,
                               config=config, records=records, summary=summarize(records),
                               device=str(dev), out_dir=writer.out_dir if writer else None,
                               last=last, num_nodes=int(graph_data.num_nodes),
                               num_edges=int(graph_data.edge_index.size(1)), n_clusters=k,
                               num_features=_num_features(graph_data),
                               num_classes=_num_classes(graph_data))
        if writer is not None:
            writer.finalize(out)
    finally:
        if writer is not None:
            for handler in list(logger.handlers):
                handler.close()
                logger.removeHandler(handler)
    return out


def _num_features(data: Data) -> int:
    x = getattr(data, "x", None)
    return int(x.size(1)) if x is not None and x.dim() == 2 else 0


def _num_classes(data: Data) -> int:
    y = labels_of(data)
    return 0 if y is None else int(torch.unique(y[y >= 0]).numel())


def _run_all(cls: Type[BaseModel], data: Data, config: Dict[str, Any], *, runs: int, seed: int,
             device: torch.device, mini_batch: bool, writer, resume: bool,
             logger: logging.Logger, verbose: bool, plot: Optional[str], save_labels: bool,
             callbacks, echo, checkpoint_root: Optional[str] = None,
             distributed: bool = False) -> tuple:
    """Every run; ``plot`` is the projection of the embedding maps (``None``: no figures)."""
    records: List[Dict[str, Any]] = []
    last: Optional[RunResult] = None
    # Deterministic untrained methods: embed once, re-cluster with each run's seed.
    cache = EmbeddingCache() if reuses_embedding(cls, config) else None
    for run in range(runs):
        run_seed = seed + run
        if resume and (writer is not None or distributed):
            done = writer.load_run(run) if writer is not None else None
            if distributed:  # rank 0 read the record; every rank skips the same runs
                done = dist_utils.broadcast_object(done, what="finished runs")
            if done is not None:
                records.append(done)
                logger.info("Run %d already finished; kept its results.", run)
                continue
        if echo and runs > 1:
            echo(f"run {run + 1}/{runs} (seed {run_seed})")
        result = run_once(cls, data, config, run=run, seed=run_seed, device=device,
                          mini_batch=mini_batch,
                          checkpoint_dir=os.path.join(checkpoint_root, f"run{run}")
                          if checkpoint_root else None,
                          resume=resume, logger=logger, verbose=verbose,
                          keep_embedding=bool(plot) or checkpoint_root is None
                          or run == runs - 1,
                          callbacks=callbacks, embedding_cache=cache, distributed=distributed)
        records.append(result.record())
        if writer is not None:
            writer.write_run(result, save_labels=save_labels)
            if plot:
                writer.plot_run(result, labels_of(data), projection=plot, seed=seed,
                                title=f"{cls.__name__} on {config['dataset']}")
        last = result
    return records, last
