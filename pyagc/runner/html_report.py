"""``report.html``: one self-contained page per run folder and per benchmark.

The page needs nothing but itself to open: the figures are embedded as base64 PNG ``data:``
URIs, the style sheet is inline, there is no script and no external link other than the
relative links to the folder's own files. Every text from the run (names, config values) is
escaped. A ``@media print`` style keeps tables and figures whole on paper.

``report.html`` is written into every results folder (``pyagc run`` without ``--no-save``,
``pyagc bench``), with or without matplotlib: the tables, config and timings always; the run
figures only with ``--plot`` (drawing them costs a t-SNE per run and needs matplotlib), the
benchmark figure whenever matplotlib is installed (it is cheap).

A run's report holds the dataset summary, the metrics table (mean ± std over the runs, as
``summary.md``), one row per run with every metric, the timings and the memory, the figures
written under ``plots/`` (with ``--plot``), and the resolved config (``config.yaml``). A
benchmark's report holds the comparison table (as ``bench.md``), the comparison figure
(``bench.png``, when matplotlib is installed), the datasets, a link to each pair's own report,
each pair's resolved config, and the pairs that failed.
"""
from __future__ import annotations

import base64
import datetime
import html
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from pyagc.runner.keys import LABEL_METRICS, STRUCTURE_METRICS, TIME_KEYS
from pyagc.runner.report import _TIME_NAMES, reuse_note, run_rows, summary_rows

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 1180px; margin: 1.5em auto; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: 0.15em; margin-top: 1.6em; }
h3 { font-size: 1.0em; margin: 1.2em 0 0.4em; }
.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
td { white-space: nowrap; }
.side { display: flex; flex-wrap: wrap; gap: 0 3em; align-items: flex-start; }
th { background: #f2f2f2; }
td.name, th.name { text-align: left; }
figure { margin: 0.8em 0 1.4em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
pre { background: #f7f7f7; border: 1px solid #e2e2e2; padding: 0.6em; font-size: 0.82em;
      overflow-x: auto; }
.configs { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr));
           gap: 0 1em; }
.note { color: #555; font-size: 0.9em; }
@media print {
  body { max-width: none; margin: 0; font-size: 10pt; }
  h2 { page-break-after: avoid; }
  table, figure, pre, .keep { page-break-inside: avoid; break-inside: avoid; }
  pre { white-space: pre-wrap; overflow: visible; }
  a { color: inherit; text-decoration: none; }
  th { background: #eee; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""

def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


_NAME = ' class="name"'


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], names: int = 1) -> str:
    """An HTML table; the first ``names`` columns are left-aligned text."""
    def cells(row, tag):
        return "".join(f"<{tag}{_NAME if i < names else ''}>{_e(c)}</{tag}>"
                       for i, c in enumerate(row))
    body = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows)
    return f"<table><thead><tr>{cells(header, 'th')}</tr></thead><tbody>{body}</tbody></table>"


def embed_png(path: str, caption: str) -> str:
    """A ``<figure>`` holding the PNG at ``path`` as a base64 data URI."""
    with open(path, "rb") as handle:
        data = base64.b64encode(handle.read()).decode("ascii")
    name = os.path.basename(path)
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}" '
            f'data-file="{_e(name)}"><figcaption>{_e(caption)} ({_e(name)})</figcaption>'
            "</figure>")


def _page(title: str, body: str) -> str:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        from importlib.metadata import PackageNotFoundError, version
        written_by = f"pyagc {version('pyagc')}"
    except PackageNotFoundError:  # run from a source tree that is not installed
        written_by = "pyagc"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{_e(title)}</h1><p class=\"meta\">Written by {_e(written_by)} on "
            f"{_e(stamp)}.</p>{body}</body></html>\n")


def _dataset_rows(experiment) -> List[Tuple[str, str]]:
    rows = [("Dataset", experiment.dataset), ("Nodes", f"{experiment.num_nodes:,}"),
            ("Edges (directed entries)", f"{experiment.num_edges:,}")]
    if getattr(experiment, "num_features", 0):
        rows.append(("Features", f"{experiment.num_features:,}"))
    classes = getattr(experiment, "num_classes", 0)
    rows.append(("Classes", f"{classes}" if classes else "no labels"))
    rows.append(("Clusters (k)", f"{experiment.n_clusters}"))
    return rows


def _metric_keys(records: Sequence[Dict[str, Any]]) -> List[str]:
    known = [k for k in (*LABEL_METRICS, *STRUCTURE_METRICS)
             if any(k in r["metrics"] for r in records)]
    extra = [k for r in records for k in r["metrics"] if k not in known]
    return known + list(dict.fromkeys(extra))


def _runs_table(experiment) -> str:
    records = experiment.records
    keys = _metric_keys(records)
    header = ["Run", "Seed", *[f"{k} (%)" for k in keys],
              *[f"{_TIME_NAMES[k]} (s)" for k in TIME_KEYS], "Memory (MB)", "Epochs",
              "Final loss"]
    rows = []
    for r in records:
        metrics = [f"{100 * r['metrics'][k]:.2f}" if k in r["metrics"] else "-" for k in keys]
        times = [f"{r['times'][k]:.3f}" for k in TIME_KEYS]
        loss = r.get("final_loss")
        rows.append([r["run"], r["seed"], *metrics, *times, f"{r['memory_mb']:.0f}",
                     r.get("epochs", 0), "-" if loss is None else f"{loss:.4g}"])
    return _table(header, rows, names=0)


#: Figure kinds in the order a run's figures are shown, with their captions.
_FIGURE_CAPTIONS = {
    "embedding": "Embedding map: predicted clusters and true classes at the same coordinates",
    "contingency": "Cluster × class counts, columns in the order of the matching used for ACC",
    "loss": "Loss per component and stage",
}


def _figure_caption(name: str) -> Tuple[str, str]:
    """``(group, caption)`` of a figure file ``<kind>_run<i>.png``."""
    stem = os.path.splitext(name)[0]
    kind, _, run = stem.rpartition("_run")
    if not kind or not run.isdigit():
        return "Other figures", stem
    return f"Run {run}", _FIGURE_CAPTIONS.get(kind, kind)


def _figures_section(paths: Sequence[str]) -> str:
    if not paths:
        return ("<h2>Figures</h2><p class=\"note\">No figures: run with <code>--plot</code> "
                "(needs matplotlib, <code>pip install 'pyagc[plot]'</code>) to draw the "
                "embedding map, the cluster × class table and the loss curves.</p>")
    groups: Dict[str, List[str]] = {}
    kinds = list(_FIGURE_CAPTIONS)
    def rank(path):
        kind = os.path.basename(path).rpartition("_run")[0]
        return kinds.index(kind) if kind in kinds else len(kinds), os.path.basename(path)
    for path in sorted(paths, key=rank):
        group, caption = _figure_caption(os.path.basename(path))
        groups.setdefault(group, []).append(embed_png(path, caption))
    order = sorted(groups, key=lambda g: (not g.startswith("Run "),
                                          int(g[4:]) if g[4:].isdigit() else 0, g))
    parts = []
    for i, group in enumerate(order):
        # A heading stays on the page of the figure under it (print).
        heading = ("<h2>Figures</h2>" if i == 0 else "") + f"<h3>{_e(group)}</h3>"
        first, rest = groups[group][0], groups[group][1:]
        parts.append(f"<div class=\"keep\">{heading}{first}</div>" + "".join(rest))
    return "".join(parts)


def _config_block(config: Dict[str, Any]) -> str:
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
    return f"<pre>{_e(text)}</pre>"


def run_report(experiment, figures: Sequence[str] = (),
               files: Sequence[str] = ()) -> str:
    """The HTML of one experiment's report.

    Args:
        experiment: a :class:`~pyagc.runner.ExperimentResult`.
        figures: PNG paths to embed (each run's figures are grouped by the ``_run<i>`` in
            their name).
        files: names of the folder's files to link (relative links).
    """
    runs = len(experiment.records)
    seeds = [r["seed"] for r in experiment.records]
    title = f"{experiment.method} on {experiment.dataset}"
    header, rows = run_rows(experiment)
    parts = [f"<p class=\"meta\">{_e(experiment.method)} ({_e(experiment.family)}), "
             f"{runs} run(s) with seeds {_e(', '.join(map(str, seeds)))} on "
             f"{_e(experiment.device)}. Metrics in %, times in seconds per run.</p>",
             "<div class=\"side\"><div><h2>Results</h2>",
             _table(["Metric", header], rows), "</div><div><h2>Dataset</h2>",
             _table(["Property", "Value"], _dataset_rows(experiment)), "</div></div>"]
    note = reuse_note(experiment)
    if note:
        parts.append(f"<p class=\"note\">{_e(note)}</p>")
    parts += ["<h2>Runs and timings</h2>", _runs_table(experiment), _figures_section(figures),
              "<h2>Configuration</h2><p class=\"note\">The resolved config of these runs "
              "(<code>config.yaml</code>).</p>", _config_block(experiment.config)]
    if files:
        links = "".join(f'<li><a href="{_e(name)}">{_e(name)}</a></li>' for name in files)
        parts.append(f"<h2>Files</h2><ul>{links}</ul>")
    return _page(title, "".join(parts))


def bench_report(experiments: Sequence[Any], figure: Optional[str] = None,
                 failures: Sequence[str] = (), folders: Sequence[str] = ()) -> str:
    """The HTML of a benchmark's report.

    Args:
        experiments: the :class:`~pyagc.runner.ExperimentResult` of each (method, dataset).
        figure: the comparison PNG (:func:`pyagc.runner.plots.bench_figure`), or ``None``.
        failures: one message per pair that failed.
        folders: each experiment's results folder, relative to the report (links to its
            own ``report.html``); empty for none.
    """
    header, rows = summary_rows(experiments)
    datasets: Dict[str, Any] = {}
    for e in experiments:
        datasets.setdefault(e.dataset, e)
    # One table of bench.md is too wide for a page: the metrics, then the costs.
    metrics = len(header) - 4 - len(TIME_KEYS) - 1
    ids = [0, 2]
    quality = [0, 1, 2, 3, *range(4, 4 + metrics)]
    cost = [*ids, *range(4 + metrics, len(header))]
    def pick(columns, row):
        return [row[i] for i in columns]
    parts = [f"<p class=\"meta\">{len(experiments)} method × dataset pair(s); metrics in % "
             "(mean ± std over the runs), times in seconds per run (mean), peak memory.</p>",
             "<h2>Results</h2>", _table(pick(quality, header), [pick(quality, r) for r in rows],
                                         names=3),
             "<h3>Timings and memory</h3>",
             _table(pick(cost, header), [pick(cost, r) for r in rows], names=2)]
    if figure:
        parts.append(embed_png(figure, "NMI and ACC (± std over runs) and total time per run "
                                       "(log axis)"))
    else:
        parts.append("<p class=\"note\">No comparison figure: matplotlib is not installed "
                     "(<code>pip install 'pyagc[plot]'</code>).</p>")
    if failures:
        items = "".join(f"<li>{_e(message)}</li>" for message in failures)
        parts.append(f"<h2>Failed</h2><ul>{items}</ul>")
    parts.append("<h2>Datasets</h2>")
    names = [name for name, _ in _dataset_rows(next(iter(datasets.values())))][1:] \
        if datasets else []
    parts.append(_table(["Dataset", *names],
                        [[value for _, value in _dataset_rows(e)] for e in datasets.values()]))
    parts.append("<h2>Each pair</h2>")
    if folders:
        items = "".join(f'<li><a href="{_e(folder)}/report.html">{_e(e.method)} on '
                        f'{_e(e.dataset)}</a>: {_e(folder)}/</li>'
                        for e, folder in zip(experiments, folders))
        parts.append(f"<ul>{items}</ul>")
    parts.append("<div class=\"configs\">" + "".join(
        f"<div><h3>{_e(e.method)} on {_e(e.dataset)}: config</h3>{_config_block(e.config)}"
        "</div>" for e in experiments) + "</div>")
    return _page("Benchmark: " + ", ".join(dict.fromkeys(e.method for e in experiments))
                 + " on " + ", ".join(datasets), "".join(parts))
