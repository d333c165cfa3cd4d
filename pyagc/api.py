"""The one-call Python API: ``pyagc.cluster(data, method='SSGC', n_clusters=7)``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

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

    Args:
        data: a :class:`~torch_geometric.data.Data`, an ``(x, edge_index[, y])`` tuple, or
            anything :func:`pyagc.data.load_graph` reads (edge-list file, array, networkx).
        method: method name (``pyagc list`` shows them).
        n_clusters: number of clusters; default the number of classes in ``data.y``.
        seed: seed of the run (model initialisation, sampling, KMeans).
        device: ``'cpu'``, ``'cuda'`` or ``'auto'``.
        mini_batch: train with neighbour sampling.
        config: a YAML file overriding the packaged config.
        overrides: ``{'train.epochs': 50, ...}`` (dotted keys, as ``--set``).
        verbose: progress bars.
        **kwargs: more overrides by bare key (``epochs=50``, ``hidden_channels=64``) or by
            section (``train={'lr': 1e-3}``).

    Returns:
        :class:`ClusterResult` (``labels, embedding = pyagc.cluster(...)`` also works).

    Example::

        >>> import pyagc
        >>> from pyagc.data import make_csbm
        >>> res = pyagc.cluster(make_csbm(1000, 4), method='SSGC')
        >>> res.labels.shape, res.metrics['NMI']
    """
    from pyagc.runner import run_experiment
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
