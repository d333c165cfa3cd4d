"""Figures of a run and of a benchmark (matplotlib, an optional dependency, imported only here).

Each ``*_figure`` function returns a :class:`matplotlib.figure.Figure` (so that tests and
notebooks can inspect its axes); :func:`save_figure` writes it as a PNG and closes it.

* :func:`embedding_figure` — a 2-D map of the embedding: t-SNE (scikit-learn) on a seeded
  sample of at most :data:`MAX_MAP_POINTS` nodes by default, PCA when asked for
  (``projection='pca'``); two panels with the same coordinates, the predicted clusters and
  the true classes (when the graph has labels), each cluster drawn in the colour of the class
  matched to it for ACC, so that agreeing groups share a colour (and the class panel looks
  the same in every run that shares an embedding).
* :func:`contingency_figure` — the cluster × class count table as a heatmap; the columns
  follow the Hungarian matching of :func:`pyagc.metrics.cluster_matching` (the one ACC uses),
  so the matched counts lie on the diagonal and sum to ACC × the number of labelled nodes.
* :func:`loss_figure` — one panel for the total loss and one per :class:`~pyagc.models.LossOutput`
  component, each stage of a multi-stage method in its own colour; a panel uses a log scale
  when its values are positive and span more than :data:`LOG_SCALE_RATIO`.
* :func:`bench_figure` — methods side by side: NMI and ACC (mean with the std over runs as an
  error bar) and the total time per run on a log axis.
"""
from __future__ import annotations

import io
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from torch import Tensor

#: The embedding map is drawn for at most this many nodes (a seeded random sample above it):
#: t-SNE on 3,000 points takes a few seconds on one CPU thread, and a denser scatter is no
#: easier to read.
MAX_MAP_POINTS = 3000
#: A loss panel switches to a log scale when its (positive) values span more than this ratio.
LOG_SCALE_RATIO = 30.0
#: Counts are written in the contingency cells when neither side has more than this many groups.
MAX_ANNOTATED = 20
#: At most this many groups get a legend entry in a map panel.
MAX_LEGEND = 20
PROJECTIONS = ("tsne", "pca")
_PROJECTION_NAMES = {"tsne": "t-SNE", "pca": "PCA"}


def require_matplotlib():
    """Import matplotlib (optional dependency) with a clear error when it is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("--plot needs matplotlib, an optional dependency: "
                          "pip install 'pyagc[plot]'.") from None
    return plt


def has_matplotlib() -> bool:
    """Whether matplotlib can be imported."""
    try:
        require_matplotlib()
    except ImportError:
        return False
    return True


def check_projection(projection: str) -> str:
    """``projection`` lower-cased, or a ValueError naming the choices."""
    name = str(projection).lower()
    if name not in PROJECTIONS:
        raise ValueError(f"Unknown projection {projection!r}; use 'tsne' or 'pca'.")
    return name


def save_figure(fig, path: str, dpi: int = 110) -> str:
    """Write ``fig`` to ``path`` (PNG, atomically; folders created) and close it."""
    from pyagc.runner.checkpoint import atomic_write_bytes
    plt = require_matplotlib()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _numpy(values: Any, dtype=None) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=dtype)


def project_2d(embedding: Any, projection: str = "tsne", seed: int = 0,
               max_points: int = MAX_MAP_POINTS) -> tuple:
    """``(coords [n, 2], index [n])``: a 2-D projection of the embedding rows ``index``.

    ``index`` is every row, or a seeded random sample of ``max_points`` rows (sorted) above
    that. ``projection`` is ``'tsne'`` (scikit-learn t-SNE, perplexity ``min(30, (n - 1) / 3)``,
    after a PCA to 50 dimensions when wider) or ``'pca'``. An embedding of at most 2 columns is
    drawn as it is.
    """
    projection = check_projection(projection)
    from sklearn.decomposition import PCA
    z = _numpy(embedding, np.float32)
    if z.ndim != 2:
        raise ValueError(f"The embedding must be [num_nodes, dim], got {list(z.shape)}.")
    index = np.arange(z.shape[0])
    if z.shape[0] > max_points:
        rng = np.random.default_rng(seed)
        index = np.sort(rng.choice(z.shape[0], max_points, replace=False))
        z = z[index]
    if z.shape[1] <= 2:
        coords = np.zeros((z.shape[0], 2), dtype=np.float32)
        coords[:, :z.shape[1]] = z
        return coords, index
    if projection == "tsne" and z.shape[0] > 5:
        from sklearn.manifold import TSNE
        if z.shape[1] > 50:  # t-SNE's usual PCA pre-reduction
            z = PCA(n_components=50, random_state=seed).fit_transform(z)
        perplexity = float(min(30.0, (z.shape[0] - 1) / 3.0))
        coords = TSNE(n_components=2, perplexity=perplexity, init="pca",
                      random_state=seed).fit_transform(z)
    else:
        coords = PCA(n_components=2, random_state=seed).fit_transform(z)
    return coords, index


def matched_order(classes: Any, clusters: Any) -> tuple:
    """``(cluster_order, class_order, n_matched)``: the ``n_matched`` matched clusters (in id
    order) followed by the unmatched ones, and the class matched to each of them followed by
    the unmatched classes — the Hungarian matching ACC uses
    (:func:`pyagc.metrics.cluster_matching`). Nodes with a negative class are left out."""
    from pyagc.metrics import cluster_matching
    y, c = _numpy(classes).reshape(-1), _numpy(clusters).reshape(-1)
    if y.shape != c.shape:
        raise ValueError(f"{y.size} classes for {c.size} clusters; give one of each per node.")
    keep = y >= 0
    y, c = y[keep], c[keep]
    if y.size == 0:
        raise ValueError("No labelled node (every class is negative).")
    mapping = cluster_matching(y, c)
    matched = sorted(mapping)
    cluster_order = matched + [int(k) for k in np.unique(c) if int(k) not in mapping]
    used = {mapping[k] for k in matched}
    class_order = [mapping[k] for k in matched] + [int(k) for k in np.unique(y)
                                                   if int(k) not in used]
    return cluster_order, class_order, len(matched)


def _colours(n: int) -> List[Any]:
    import matplotlib
    if n <= 10:
        base = matplotlib.colormaps["tab10"]
        return [base(i) for i in range(n)]
    if n <= 20:
        base = matplotlib.colormaps["tab20"]
        return [base(i) for i in range(n)]
    base = matplotlib.colormaps["turbo"]
    return [base(i / max(1, n - 1)) for i in range(n)]


def _scatter_groups(ax, coords: np.ndarray, groups: np.ndarray, order: Sequence[int],
                    colours: Dict[int, Any], name: str, size: float, seed: int) -> None:
    """One scatter of every point in a seeded random order (no group hides another by being
    drawn last), and a legend entry per group in ``order`` with its size."""
    from matplotlib.lines import Line2D
    draw = np.random.default_rng(seed).permutation(len(groups))
    ax.scatter(coords[draw, 0], coords[draw, 1], s=size, linewidths=0, alpha=0.85,
               c=[colours[int(g)] for g in groups[draw]], rasterized=True)
    for g in order:
        count = int((groups == g).sum())
        if count:
            ax.add_line(Line2D([], [], ls="", marker="o", ms=6, color=colours[g],
                               label=f"{name} {g} ({count})"))
    ax.set_xticks([])
    ax.set_yticks([])
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        shown = min(len(handles), MAX_LEGEND)
        legend = ax.legend(handles[:shown], labels[:shown], loc="upper center",
                           bbox_to_anchor=(0.5, -0.02), ncol=min(4, shown), fontsize=8,
                           frameon=False, handletextpad=0.2,
                           columnspacing=0.8,
                           title=None if shown == len(handles) else
                           f"first {shown} of {len(handles)} {name}s")
        legend.set_gid(f"legend-{name}")


def embedding_figure(embedding: Any, clusters: Any, classes: Optional[Any] = None, *,
                     projection: str = "tsne", seed: int = 0,
                     max_points: int = MAX_MAP_POINTS, title: str = "",
                     projected: Optional[tuple] = None):
    """The embedding map: panel "Predicted clusters" and, when ``classes`` is given (a class
    per node; negative = unlabelled, left out of that panel), panel "True classes", with the
    same coordinates. The title names the projection and the sample size.

    Args:
        embedding: ``[num_nodes, dim]`` tensor or array.
        clusters: predicted cluster per node ``[num_nodes]``.
        classes: true class per node ``[num_nodes]``, or ``None``.
        projection: ``'tsne'`` (default) or ``'pca'``; see :func:`project_2d`.
        seed: seed of the sample and of t-SNE.
        max_points: at most this many nodes are drawn (a seeded sample).
        title: prefix of the figure title (e.g. ``'SSGC on Cora, run 0'``).
        projected: ``(coords, index)`` that :func:`project_2d` returned for this embedding
            with the same ``projection``, ``seed`` and ``max_points`` (skips recomputing it).
    """
    plt = require_matplotlib()
    clusters = _numpy(clusters, np.int64).reshape(-1)
    n = clusters.size
    if _numpy(embedding).shape[0] != n:
        raise ValueError(f"The embedding has {_numpy(embedding).shape[0]} rows but there are "
                         f"{n} cluster labels; give one row and one label per node.")
    if classes is not None:
        classes = _numpy(classes, np.int64).reshape(-1)
        if classes.size != n:
            raise ValueError(f"{classes.size} classes for {n} nodes; give one per node.")
        if not (classes >= 0).any():
            classes = None
    coords, index = projected if projected is not None else \
        project_2d(embedding, projection, seed, max_points)
    sample_clusters = clusters[index]
    if classes is not None:
        cluster_order, class_order, n_matched = matched_order(classes, clusters)
    else:
        cluster_order, class_order, n_matched = [int(k) for k in np.unique(clusters)], [], 0
    # Class i has colour i (the same in every run); a cluster takes the colour of the class
    # matched to it, and unmatched clusters get colours of their own.
    class_ids = sorted(class_order)
    palette = _colours(len(class_ids) + len(cluster_order) - n_matched)
    class_colour = {k: palette[i] for i, k in enumerate(class_ids)}
    matched = dict(zip(cluster_order[:n_matched], class_order[:n_matched]))
    cluster_colour = {k: class_colour[matched[k]] if k in matched else
                      palette[len(class_ids) + i - n_matched]
                      for i, k in enumerate(cluster_order)}
    panels = 2 if classes is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.2 * panels, 6.8), squeeze=False)
    axes = axes[0]
    size = float(np.clip(30000.0 / max(len(index), 1), 2.0, 30.0))
    _scatter_groups(axes[0], coords, sample_clusters, cluster_order, cluster_colour, "cluster",
                    size, seed)
    axes[0].set_title(f"Predicted clusters (k={len(cluster_order)})"
                      + (", coloured as their matched class" if classes is not None else ""),
                      fontsize=10)
    if classes is not None:
        sample_classes = classes[index]
        labelled = sample_classes >= 0
        _scatter_groups(axes[1], coords[labelled], sample_classes[labelled], class_ids,
                        class_colour, "class", size, seed)
        axes[1].set_title(f"True classes ({len(class_ids)})", fontsize=10)
    low, high = coords.min(axis=0), coords.max(axis=0)
    centre, half = (low + high) / 2.0, float((high - low).max()) * 0.53 + 1e-9
    for ax in axes:  # the same square window in every panel
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_aspect("equal", adjustable="box")
    drawn = (f"{len(index):,} nodes" if len(index) == n else
             f"a random sample of {len(index):,} of {n:,} nodes (seed {seed})")
    name = _PROJECTION_NAMES[check_projection(projection)]
    if _numpy(embedding).ndim == 2 and _numpy(embedding).shape[1] <= 2:
        name = "the embedding itself (2-D)"
    fig.suptitle(f"{title + ': ' if title else ''}{name} of the embedding, {drawn}",
                 fontsize=11)
    fig.tight_layout()
    return fig


def contingency_figure(classes: Any, clusters: Any, *, title: str = "",
                       max_annotated: int = MAX_ANNOTATED):
    """Heatmap of the counts of labelled nodes per (cluster, class): rows are the clusters,
    columns the classes in the order of the Hungarian matching used for ACC (see
    :func:`matched_order`), so the matched pairs lie on the diagonal. Counts are written in
    the cells when neither side has more than ``max_annotated`` groups."""
    plt = require_matplotlib()
    y = _numpy(classes, np.int64).reshape(-1)
    c = _numpy(clusters, np.int64).reshape(-1)
    cluster_order, class_order, n_matched = matched_order(y, c)
    keep = y >= 0
    y, c = y[keep], c[keep]
    row = {k: i for i, k in enumerate(cluster_order)}
    col = {k: j for j, k in enumerate(class_order)}
    table = np.zeros((len(cluster_order), len(class_order)), dtype=np.int64)
    np.add.at(table, (np.array([row[int(k)] for k in c]), np.array([col[int(k)] for k in y])),
              1)
    matched = int(sum(table[i, i] for i in range(n_matched)))
    acc = matched / max(int(table.sum()), 1)
    width = min(14.0, 2.5 + 0.55 * len(class_order))
    height = min(14.0, 1.8 + 0.45 * len(cluster_order))
    fig, ax = plt.subplots(figsize=(max(width, 5.0), max(height, 3.5)))
    image = ax.imshow(table, cmap="Blues", aspect="auto")
    cbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    cbar.set_label("nodes")
    ax.set_xticks(range(len(class_order)))
    ax.set_xticklabels([str(k) for k in class_order])
    ax.set_yticks(range(len(cluster_order)))
    ax.set_yticklabels([str(k) for k in cluster_order])
    ax.set_xlabel("true class (ordered by the matching used for ACC)")
    ax.set_ylabel("predicted cluster")
    if max(table.shape) <= max_annotated:
        threshold = table.max() / 2.0 if table.size else 0
        for i in range(table.shape[0]):
            for j in range(table.shape[1]):
                ax.text(j, i, str(table[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if table[i, j] > threshold else "black",
                        fontweight="bold" if i == j else "normal")
    ax.set_title(f"{title + ': ' if title else ''}cluster × class counts; diagonal = matched "
                 f"pairs, ACC {100 * acc:.1f}%", fontsize=10)
    fig.tight_layout()
    return fig


def _log_scale_fits(values: np.ndarray) -> bool:
    values = values[np.isfinite(values)]
    return bool(values.size and (values > 0).all()
                and values.max() / values.min() > LOG_SCALE_RATIO)


def loss_series(history: List[Dict[str, Any]]) -> Dict[str, List[tuple]]:
    """``{name: [(step, stage, value), ...]}`` from a run's history: ``'total'`` and every
    component, ``step`` counting the epochs over all stages from 1."""
    series: Dict[str, List[tuple]] = {"total": []}
    for step, row in enumerate(history, start=1):
        series["total"].append((step, row["stage"], float(row["loss"])))
        for name, value in (row.get("components") or {}).items():
            series.setdefault(name, []).append((step, row["stage"], float(value)))
    return series


def loss_figure(history: List[Dict[str, Any]], *, title: str = ""):
    """Loss curves of one run: panel "total" and one panel per loss component; each stage in
    its own colour (a legend when there are several) with a dotted line where a stage starts.
    A panel is on a log scale when its values are positive and span more than
    :data:`LOG_SCALE_RATIO`."""
    plt = require_matplotlib()
    if not history:
        raise ValueError("The history is empty: the model was not trained, so it has no loss "
                         "curve.")
    series = loss_series(history)
    stages = list(dict.fromkeys(row["stage"] for row in history))
    colours = dict(zip(stages, _colours(len(stages))))
    starts = [step for step, (prev, row) in
              enumerate(zip([None] + history[:-1], history), start=1)
              if prev is not None and prev["stage"] != row["stage"]]
    names = list(series)
    cols = 2 if len(names) == 4 else min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 3.2 * rows), squeeze=False,
                             sharex=True)
    for ax, name in zip(axes.flat, names):
        points = series[name]
        for stage in stages:
            xs = [s for s, st, _ in points if st == stage]
            ys = [v for _, st, v in points if st == stage]
            if xs:
                ax.plot(xs, ys, color=colours[stage], label=stage, lw=1.4,
                        marker="o" if len(xs) == 1 else None, ms=3)
        for step in starts:
            ax.axvline(step - 0.5, color="grey", ls=":", lw=1)
        values = np.array([v for _, _, v in points], dtype=float)
        if _log_scale_fits(values):
            ax.set_yscale("log")
        ax.set_title("total loss" if name == "total" else name, fontsize=10)
        ax.set_xlabel("epoch" if len(stages) == 1 else "epoch (all stages)")
        ax.xaxis.set_tick_params(labelbottom=True)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    if len(stages) > 1:
        axes[0, 0].legend(title="stage", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def _log_time_axis(ax, highs: Sequence[float], lows: Sequence[float]) -> None:
    """A log x axis spanning at least a decade around the values, ticks in plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator
    positive = [v for v in lows if v > 0] + [v for v in highs if v > 0]
    if not positive:
        return
    low, high = min(positive), max(positive)
    centre = np.sqrt(low * high)
    span = max(high / low, 10.0) * 2.5  # room for the value labels on the right
    ax.set_xscale("log")
    ax.set_xlim(centre / np.sqrt(span) / 1.5, centre * np.sqrt(span) * 1.5)
    ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def bench_figure(experiments: Sequence[Any], *, metrics: Sequence[str] = ("NMI", "ACC")):
    """Methods compared: one horizontal-bar panel per metric in ``metrics`` that some
    experiment has (mean in %, the std over runs as an error bar) and one for the total time
    per run (s, log axis). One bar group per method, one colour per dataset. ``experiments``
    are :class:`~pyagc.runner.ExperimentResult` (``method``, ``dataset``, ``summary``)."""
    plt = require_matplotlib()
    if not experiments:
        raise ValueError("No experiment to compare.")
    methods = list(dict.fromkeys(e.method for e in experiments))
    datasets = list(dict.fromkeys(e.dataset for e in experiments))
    shown = [m for m in metrics if any(m in e.summary for e in experiments)]
    panels = [(m, f"{m} (%)", 100.0, False) for m in shown]
    panels.append(("time_total", "total time per run (s, log)", 1.0, True))
    colours = dict(zip(datasets, _colours(len(datasets))))
    height = max(2.6, 0.9 + 0.32 * len(methods) * len(datasets))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), height),
                             sharey=True, squeeze=False)
    axes = axes[0]
    bar = 0.8 / len(datasets)
    by_pair = {(e.method, e.dataset): e for e in experiments}
    for ax, (key, label, scale, log) in zip(axes, panels):
        for d, dataset in enumerate(datasets):
            ys, means, stds = [], [], []
            for i, method in enumerate(methods):
                e = by_pair.get((method, dataset))
                if e is None or key not in e.summary:
                    continue
                ys.append(i + (d - (len(datasets) - 1) / 2) * bar)
                means.append(e.summary[key]["mean"] * scale)
                stds.append(e.summary[key]["std"] * scale)
            if log:  # a bar from an arbitrary left edge would mislead on a log axis
                ax.errorbar(means, ys, xerr=stds, fmt="o", color=colours[dataset],
                            label=dataset, capsize=3, ms=5, lw=1)
            else:
                ax.barh(ys, means, height=bar * 0.9, xerr=stds, color=colours[dataset],
                        label=dataset, capsize=2, error_kw={"lw": 1})
            for y, m, s in zip(ys, means, stds):
                ax.text(m + s, y, f"  {m:.1f}" if not log else f"  {m:.3g} s", va="center",
                        fontsize=7)
        if log:
            _log_time_axis(ax, [e.summary[key]["mean"] + e.summary[key]["std"]
                                for e in experiments if key in e.summary],
                           [e.summary[key]["mean"] - e.summary[key]["std"]
                            for e in experiments if key in e.summary])
        else:
            ax.set_xlim(0, 100)
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(methods)))
    axes[0].set_yticklabels(methods)
    axes[0].invert_yaxis()
    if len(datasets) > 1:
        axes[-1].legend(title="dataset", fontsize=8, loc="upper left",
                        bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.suptitle("Methods compared: mean over runs, error bars = ± std"
                 + (f" ({datasets[0]})" if len(datasets) == 1 else ""), fontsize=11)
    fig.tight_layout()
    return fig
