"""Tables of experiment results: mean ± std over runs, metrics in percent (as published)."""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

from pyagc.runner.keys import LABEL_METRICS, STRUCTURE_METRICS, TIME_KEYS

_TIME_NAMES = {"train": "Train", "inference": "Inference", "clustering": "Clustering",
               "total": "Total"}


def _pm(stat: Dict[str, float], scale: float = 1.0, digits: int = 2, single: bool = False
        ) -> str:
    if single:  # one run: a standard deviation of 0 would only be noise in the table
        return f"{stat['mean'] * scale:.{digits}f}"
    return f"{stat['mean'] * scale:.{digits}f} ± {stat['std'] * scale:.{digits}f}"


def _memory_name(device: str) -> str:
    return "Peak GPU memory (MB)" if device.startswith("cuda") else "Peak RSS (MB)"


def run_rows(experiment) -> Tuple[str, List[Tuple[str, str]]]:
    """``(value header, [(name, value), ...])`` of :func:`run_table` (shared with the HTML
    report): metrics in %, times in s, memory; mean ± std, or the value of a single run."""
    s = experiment.summary
    one = len(experiment.records) == 1
    rows = [(f"{k} (%)", _pm(s[k], 100.0, single=one))
            for k in (*LABEL_METRICS, *STRUCTURE_METRICS) if k in s]
    rows += [(f"{_TIME_NAMES[k]} time (s)", _pm(s[f"time_{k}"], digits=3, single=one))
             for k in TIME_KEYS]
    rows.append((_memory_name(experiment.device), _pm(s["memory_mb"], digits=1, single=one)))
    return ("Value" if one else "Mean ± Std"), rows


def reuse_note(experiment) -> str:
    """The sentence saying which runs reused another run's embedding, or ``''``."""
    reused = [r["run"] for r in experiment.records if r.get("embedding_from") is not None]
    if not reused:
        return ""
    sources = sorted({r["embedding_from"] for r in experiment.records
                      if r.get("embedding_from") is not None})
    return (f"Runs {', '.join(map(str, reused))} reused the deterministic embedding "
            f"of run {', '.join(map(str, sources))} and only re-ran the clustering; "
            "their train and inference times are that run's.")


def run_table(experiment) -> str:
    """A two-column Markdown table of one experiment (metrics in %, times in s): mean ± std
    over the runs, or the value itself for a single run."""
    header, rows = run_rows(experiment)
    width = max(len(name) for name, _ in rows)
    value_width = max(len(header), *(len(value) for _, value in rows))
    lines = [f"| {'Metric'.ljust(width)} | {header.ljust(value_width)} |",
             f"| {'-' * width} | {'-' * value_width} |"]
    lines += [f"| {name.ljust(width)} | {value.ljust(value_width)} |" for name, value in rows]
    note = reuse_note(experiment)
    if note:
        lines += ["", note]
    return "\n".join(lines)


def summary_rows(experiments: Sequence) -> Tuple[List[str], List[List[str]]]:
    """``(header, rows)`` of :func:`markdown_summary` (shared with the HTML report)."""
    metric_keys = [k for k in (*LABEL_METRICS, *STRUCTURE_METRICS)
                   if any(k in e.summary for e in experiments)]
    device = experiments[0].device if experiments else "cpu"
    memory = "Peak GPU (MB)" if device.startswith("cuda") else "Peak RSS (MB)"
    header = ["Method", "Family", "Dataset", "Runs", *metric_keys,
              *[f"{_TIME_NAMES[k]} (s)" for k in TIME_KEYS], memory]
    rows: List[List[str]] = []
    for e in experiments:
        s = e.summary
        rows.append([e.method, e.family, e.dataset, str(len(e.records)),
                     *[_pm(s[k], 100.0) if k in s else "-" for k in metric_keys],
                     *[f"{s[f'time_{k}']['mean']:.3f}" for k in TIME_KEYS],
                     f"{s['memory_mb']['mean']:.0f}"])
    return header, rows


def markdown_summary(experiments: Sequence) -> str:
    """One Markdown row per (method, dataset): metrics (%) as mean ± std, times (s), memory."""
    header, rows = summary_rows(experiments)
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i])
              for i in range(len(header))]
    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    out = [line(header), "| " + " | ".join(":" + "-" * (w - 1) for w in widths) + " |"]
    out += [line(r) for r in rows]
    return "\n".join(out)
