"""The one-call Python API: ``pyagc.cluster(data, method='SSGC', n_clusters=7)``, and
``pyagc.auto(data)`` to choose the method and ``k`` without labels."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from torch import Tensor


@dataclass
class ClusterResult:
    """What :func:`cluster` returns.

    Attributes:
        labels: cluster id per node, ``[N]`` long.
        embedding: the embedding that was clustered (decoupled methods), or the encoder output
            (joint methods), ``[N, d]``; ``None`` when not available (joint mini-batch).
        metrics: NMI, ARI, ACC, F1, Homo, Comp (when the graph has labels), Mod and Cond.
        times: seconds spent in training, inference, clustering and in total.
        loss_history: one ``{stage, epoch, loss}`` per training epoch.
        model: the trained model.
        config: the resolved config.
    """

    labels: Tensor
    embedding: Optional[Tensor]
    metrics: Dict[str, float]
    times: Dict[str, float]
    loss_history: List[Dict[str, Any]] = field(default_factory=list)
    model: Any = None
    config: Dict[str, Any] = field(default_factory=dict)

    def __iter__(self):
        # ``labels, embedding = pyagc.cluster(...)`` works too.
        return iter((self.labels, self.embedding))


def _flatten(prefix: str, value: Any, out: Dict[str, Any]) -> None:
    if isinstance(value, dict) and prefix.split(".")[0] in ("model", "train", "cluster", "data") \
            and not prefix.endswith("loss_kwargs"):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, out)
    else:
        out[prefix] = value


def cluster(data: Any, method: str = "SSGC", n_clusters: Optional[int] = None, *,
            seed: int = 0, device: Optional[str] = "cpu", mini_batch: bool = False,
            config: Optional[str] = None, overrides: Optional[Dict[str, Any]] = None,
            verbose: bool = False, **kwargs: Any) -> ClusterResult:
    """Cluster the nodes of a graph with one of pyagc's methods, in one call.

    The same pipeline as ``pyagc run``: the method's packaged config (with ``config`` and the
    overrides applied), its training recipe, inference, KMeans for decoupled methods, metrics.

    Every kind of ``data`` goes through the same checks (:func:`pyagc.data.validate_graph`);
    features of any real dtype (float64 included) are cast to the models' float dtype.

    Args:
        data: a :class:`~torch_geometric.data.Data`, an ``(x, edge_index[, y])`` tuple of
            tensors or NumPy arrays (``edge_index`` of shape ``[2, E]``, ``x`` may be
            ``None``), or anything :func:`pyagc.data.load_graph` reads (edge-list file, array,
            networkx).
        method: method name (``pyagc list`` shows them).
        n_clusters: number of clusters, an integer in ``[1, num_nodes]``; default the number
            of classes in ``data.y``.
        seed: seed of the run (model initialisation, sampling, KMeans), an integer ``>= 0``.
        device: ``'cpu'``, ``'cuda'`` or ``'auto'``.
        mini_batch: train with neighbour sampling.
        config: a YAML file overriding the packaged config.
        overrides: ``{'train.epochs': 50, ...}`` (dotted keys, as ``--set``).
        verbose: progress bars.
        **kwargs: more overrides by bare key (``epochs=50``, ``hidden_channels=64``) or by
            section (``train={'lr': 1e-3}``).

    Returns:
        :class:`ClusterResult` (``labels, embedding = pyagc.cluster(...)`` also works).

    Raises:
        ScalarTypeError: an argument of the wrong type (``n_clusters=2.5`` or ``'three'``);
            both a ``TypeError`` and a ``ValueError``.
        TypeError: ``data`` is ``None``, ``overrides`` is not a mapping; strings or objects
            where numbers belong (e.g. class names as labels).
        ValueError: a malformed graph (shape, ids, NaN, lengths, no feature columns), an
            unknown method, more clusters than nodes; :class:`~pyagc.utils.validation.ConfigError`
            (a ``ValueError``) for a bad config file or override.
        FileNotFoundError: a graph or config file that does not exist.

    Example::

        >>> import pyagc
        >>> from pyagc.data import make_csbm
        >>> res = pyagc.cluster(make_csbm(1000, 4), method='SSGC')
        >>> res.labels.shape, res.metrics['NMI']
    """
    from pyagc.runner import run_experiment
    if data is None:  # run_experiment would fall back to its synthetic default graph
        raise TypeError("data is None; give the graph to cluster (a Data, an (x, edge_index"
                        "[, y]) tuple, an edge-list file, ...).")
    if overrides is not None and not isinstance(overrides, Mapping):
        raise TypeError(f"overrides must be a mapping such as {{'train.epochs': 50}}, got "
                        f"{type(overrides).__name__}.")
    flat: Dict[str, Any] = {}
    for key, value in {**(overrides or {}), **kwargs}.items():
        _flatten(key, value, flat)
    result = run_experiment(method, data=data, runs=1, seed=seed, device=device,
                            mini_batch=mini_batch, config_file=config, overrides=flat,
                            n_clusters=n_clusters, verbose=verbose)
    run = result.last
    return ClusterResult(labels=run.labels, embedding=run.embedding, metrics=run.metrics,
                         times=run.times, loss_history=run.history, model=run.model,
                         config=result.config)


def auto(data: Any, k_range: Any = "2:20", methods: Optional[List[str]] = None, **kwargs: Any):
    """Choose a method and the number of clusters for a graph without labels.

    Runs a portfolio of methods (non-parametric first, deep ones within ``budget`` seconds),
    clusters each embedding for every ``k`` of ``k_range`` and scores every candidate by
    modularity, conductance, silhouette and stability across seeds; see
    :func:`pyagc.runner.auto.auto` for the arguments and the decision rule.

    Returns:
        :class:`pyagc.runner.auto.AutoResult`: ``.method``, ``.k``, ``.labels`` of the choice,
        ``.reason``, and ``.rows()`` with every candidate's scores.

    Example::

        >>> import pyagc
        >>> from pyagc.data import make_csbm
        >>> res = pyagc.auto(make_csbm(2000, 5), k_range="2:10", methods=["SSGC"])
        >>> res.method, res.k
    """
    from pyagc.runner.auto import auto as run_auto
    return run_auto(data, k_range, methods, **kwargs)
