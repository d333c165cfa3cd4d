"""External clustering metrics: agreement between predicted clusters and ground-truth classes."""
from __future__ import annotations

from typing import Dict, Sequence, Tuple, Union

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm
from sklearn.metrics.cluster import contingency_matrix

from pyagc.utils.validation import as_array_tensor

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence[int]]

_ALIASES = {"nmi": "NMI", "ari": "ARI", "acc": "ACC", "accuracy": "ACC", "f1": "F1",
            "homo": "Homo", "homogeneity": "Homo", "comp": "Comp", "completeness": "Comp"}


def _to_numpy(values: ArrayLike, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu()
    array = as_array_tensor(values, name, "a 1-D vector of integer ids").numpy()
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector of ids, got shape {list(array.shape)}.")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if np.iscomplexobj(array) or not np.isfinite(array).all() \
                or not np.array_equal(array, np.round(array)):
            raise ValueError(f"{name} must hold integer ids (no NaN, inf or fractions).")
        array = array.astype(np.int64)
    return array


def cluster_matching(y_true: np.ndarray, y_pred: np.ndarray) -> Dict[int, int]:
    """Optimal one-to-one map predicted cluster -> class maximising the matched nodes (Hungarian).

    With more clusters than classes the extra clusters stay unmatched (their nodes count as
    errors); with fewer, some classes get no cluster.
    """
    classes, true_idx = np.unique(y_true, return_inverse=True)
    clusters, pred_idx = np.unique(y_pred, return_inverse=True)
    table = contingency_matrix(true_idx, pred_idx)  # [classes, clusters]
    rows, cols = linear_sum_assignment(table, maximize=True)
    return {int(clusters[c]): int(classes[r]) for r, c in zip(rows, cols)}


def clustering_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> Tuple[float, float]:
    """(ACC, macro-F1) under the optimal one-to-one cluster-to-class matching."""
    y_true, y_pred = _to_numpy(y_true, "y_true"), _to_numpy(y_pred, "y_pred")
    mapping = cluster_matching(y_true, y_pred)
    unmatched = int(y_true.min()) - 1  # a label no class has, so unmatched nodes count as errors
    mapped = np.array([mapping.get(int(c), unmatched) for c in np.unique(y_pred)])
    clusters = np.unique(y_pred)
    mapped_pred = mapped[np.searchsorted(clusters, y_pred)]
    acc = float(np.mean(mapped_pred == y_true))
    f1 = float(skm.f1_score(y_true, mapped_pred, labels=np.unique(y_true), average="macro",
                            zero_division=0))
    return acc, f1


def label_metrics(y_true: ArrayLike, y_pred: ArrayLike,
                  metrics: Union[str, Tuple[str, ...]] = ("NMI", "ARI", "ACC", "F1")
                  ) -> Dict[str, float]:
    """Compare predicted clusters with ground-truth classes.

    Metrics (all in ``[0, 1]`` except ARI in ``[-0.5, 1]``): ``'NMI'`` (arithmetic
    normalisation, as scikit-learn), ``'ARI'``, ``'ACC'`` and ``'F1'`` (accuracy and
    macro-F1 over the true classes after the optimal one-to-one matching of clusters to
    classes, found with the Hungarian algorithm; correct when the number of clusters differs
    from the number of classes), ``'Homo'`` (homogeneity), ``'Comp'`` (completeness).
    Names are case-insensitive.

    Nodes whose true label is negative are treated as unlabelled and left out of every metric.

    Args:
        y_true: ground-truth class per node, tensor or array ``[N]``.
        y_pred: predicted cluster per node ``[N]``.
        metrics: one name or a tuple of names.

    Returns:
        ``{name: value}`` in the order asked, with the canonical names above.

    Raises:
        TypeError: labels that are not numbers (class names: map them to ids first).
        ValueError: an unknown metric, vectors of different lengths or not 1-D, non-integer,
            NaN or infinite ids, no labelled node.
    """
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    wanted = []
    for name in names:
        key = _ALIASES.get(str(name).lower())
        if key is None:
            raise ValueError(f"Unknown label metric {name!r}; choose from NMI, ARI, ACC, F1, "
                             "Homo, Comp.")
        wanted.append(key)
    y_true, y_pred = _to_numpy(y_true, "y_true"), _to_numpy(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} entries but y_pred has {y_pred.size}; "
                         "give one label and one cluster per node.")
    labelled = y_true >= 0
    y_true, y_pred = y_true[labelled], y_pred[labelled]
    if y_true.size == 0:
        raise ValueError("No labelled node (all labels are negative or the input is empty).")

    result: Dict[str, float] = {}
    acc_f1 = None
    for key in wanted:
        if key == "NMI":
            result[key] = float(skm.normalized_mutual_info_score(y_true, y_pred))
        elif key == "ARI":
            result[key] = float(skm.adjusted_rand_score(y_true, y_pred))
        elif key in ("ACC", "F1"):
            if acc_f1 is None:
                acc_f1 = clustering_accuracy(y_true, y_pred)
            result[key] = acc_f1[0] if key == "ACC" else acc_f1[1]
        elif key == "Homo":
            result[key] = float(skm.homogeneity_score(y_true, y_pred))
        elif key == "Comp":
            result[key] = float(skm.completeness_score(y_true, y_pred))
    return result
