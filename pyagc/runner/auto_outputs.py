"""The results folder of ``pyagc auto``.

::

    <out>/config.yaml      the settings of the search (range, methods, budget, seeds)
    <out>/auto.md          every candidate's scores, the choice and why
    <out>/auto.csv         one row per candidate (method, k, Mod, Cond, Sil, Stab, ...)
    <out>/auto_scores.png  each score against k, one line per method (with --plot)
    <out>/labels.csv       the chosen partition, ``node,cluster`` (with --save-labels)

When the graph happens to have labels, ``auto.md`` and ``auto.csv`` also show NMI and ACC of
every candidate, marked as not used by the choice (they are computed after it).
"""
from __future__ import annotations

import csv
import io
import math
import os
from typing import Any, Dict, List, Optional

from torch import Tensor

from pyagc.runner.auto import RULE, SCORES, AutoResult
from pyagc.runner.checkpoint import atomic_write_text
from pyagc.runner.config import dump_config

_LABEL_SCORES = ("NMI", "ACC")


def label_scores(result: AutoResult, y: Tensor) -> List[Dict[str, float]]:
    """NMI and ACC of every candidate against ``y`` — for the reader, after the choice."""
    from pyagc.metrics import label_metrics
    return [label_metrics(y.cpu(), c.labels, _LABEL_SCORES) for c in result.candidates]


def _fmt(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.4f}"


def auto_markdown(result: AutoResult, settings: Dict[str, Any],
                  labelled: Optional[List[Dict[str, float]]] = None) -> str:
    """The Markdown report: the choice and why, the rule, every candidate's scores."""
    c = result.choice
    lines = [f"# pyagc auto: {c.method} with k = {c.k}", "",
             f"**Choice:** {result.reason}", "", f"**Rule:** {RULE}", "",
             "Scores: Mod = modularity (higher is better), Cond = mean conductance (lower is "
             "better), Sil = silhouette on the embedding (sampled; higher is better), Stab = "
             "mean ARI between the KMeans seeds, Agree = mean ARI with the other methods' partitions at "
             "the same k (both higher is better).", ""]
    if labelled is not None:
        lines += ["NMI and ACC come from the graph's labels, computed after the choice for "
                  "the reader: the choice never saw them.", ""]
    header = ["", "method", "k", *SCORES] + (list(_LABEL_SCORES) if labelled else [])
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, cand in enumerate(result.candidates):
        mark = "**→**" if cand is c else ""
        cells = [mark, cand.method, str(cand.k), *(_fmt(cand.scores[s]) for s in SCORES)]
        if labelled:
            cells += [_fmt(labelled[i][s]) for s in _LABEL_SCORES]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| method | embedding (s) | with the k sweep (s) |", "|---|---|---|"]
    lines += [f"| {m} | {t['embed']:.2f} | {t['total']:.2f} |"
              for m, t in result.method_times.items()]
    if result.skipped:
        lines += ["", "Not run:"] + [f"- {m}: {why}" for m, why in result.skipped.items()]
    lines += ["", "Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items())]
    return "\n".join(lines) + "\n"


def auto_csv(result: AutoResult, labelled: Optional[List[Dict[str, float]]] = None) -> str:
    """One CSV row per candidate, with a ``chosen`` column (1 for the choice)."""
    buffer = io.StringIO()
    fields = ["method", "k", *SCORES, "time_cluster", "chosen"] + \
        (list(_LABEL_SCORES) if labelled else [])
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for i, cand in enumerate(result.candidates):
        row = {**cand.row(), "chosen": int(cand is result.choice)}
        if labelled:
            row.update(labelled[i])
        writer.writerow(row)
    return buffer.getvalue()


def auto_figure(result: AutoResult):
    """A 2 x 3 figure: each score against k, one line per method, and the rule's score of
    each k (mean agreement x mean modularity); the choice is circled."""
    from pyagc.runner.auto import k_scores
    from pyagc.runner.plots import require_matplotlib
    plt = require_matplotlib()
    fig, axes = plt.subplots(2, 3, figsize=(13.5, 7.2), constrained_layout=True)
    axes = axes.ravel()
    methods = list(dict.fromkeys(c.method for c in result.candidates))
    choice = result.choice
    for ax, (score, higher) in zip(axes, SCORES.items()):
        for method in methods:
            cands = [c for c in result.candidates if c.method == method]
            ax.plot([c.k for c in cands], [c.scores[score] for c in cands], marker="o",
                    markersize=3, label=method)
        ax.plot([choice.k], [choice.scores[score]], marker="o", markersize=12,
                markerfacecolor="none", markeredgecolor="black", linestyle="none",
                label=f"choice ({choice.method}, k={choice.k})")
        ax.set_title(f"{score} ({'higher' if higher else 'lower'} is better)")
    rule = k_scores(result.candidates)
    axes[-1].plot(list(rule), list(rule.values()), marker="o", markersize=3, color="black")
    axes[-1].axvline(choice.k, color="black", linestyle=":", linewidth=1)
    axes[-1].set_title("the rule: mean Agree x mean Mod, per k")
    for ax in axes:
        ax.set_xlabel("k")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"pyagc auto: {choice.method} with k = {choice.k}")
    return fig


def plot_auto(result: AutoResult, path: str) -> str:
    """Write :func:`auto_figure` to ``path`` (PNG)."""
    from pyagc.runner.plots import save_figure
    return save_figure(auto_figure(result), path)


def write_auto(result: AutoResult, out_dir: str, settings: Dict[str, Any],
               y: Optional[Tensor] = None, plot: bool = False,
               save_labels: bool = False) -> Dict[str, str]:
    """Write the results folder (see the module docstring); returns ``{name: path}``."""
    from pyagc.runner.outputs import write_labels
    os.makedirs(out_dir, exist_ok=True)
    labelled = label_scores(result, y) if y is not None else None
    paths = {"config.yaml": os.path.join(out_dir, "config.yaml"),
             "auto.md": os.path.join(out_dir, "auto.md"),
             "auto.csv": os.path.join(out_dir, "auto.csv")}
    dump_config({"auto": dict(settings)}, paths["config.yaml"])
    atomic_write_text(paths["auto.md"], auto_markdown(result, settings, labelled))
    atomic_write_text(paths["auto.csv"], auto_csv(result, labelled))
    if plot:
        paths["auto_scores.png"] = plot_auto(result, os.path.join(out_dir, "auto_scores.png"))
    if save_labels:
        paths["labels.csv"] = write_labels(result.labels, os.path.join(out_dir, "labels.csv"))
    return paths
