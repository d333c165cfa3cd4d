"""The results folder of an experiment.

::

    <out>/config.yaml          resolved config (method, dataset, model/train/cluster sections)
    <out>/run.log              log of the whole experiment
    <out>/runs/run<i>.json     metrics, times, memory of run i (written when the run ends)
    <out>/results.csv          one row per run
    <out>/results.json         all runs and the mean/std summary
    <out>/summary.md           the Markdown summary table
    <out>/loss_curve.csv       run, stage, epoch, loss, then one column per loss component
    <out>/report.html          self-contained report: dataset, metrics, runs and timings,
                               the figures of plots/, the config (pyagc.runner.html_report)
    <out>/checkpoints/run<i>/{best,last}.pt
    <out>/labels/run<i>.csv|.npy   with --save-labels
    <out>/plots/*.png              with --plot: embedding_run<i> (2-D map, clusters and
                                   classes), contingency_run<i> (cluster x class counts, when
                                   the graph has labels), loss_run<i> (trained methods)

Nothing else: every file is data (YAML, JSON, CSV, Markdown, text, PNG, HTML without scripts,
NumPy arrays without
pickles, and checkpoints that :func:`torch.load` reads with ``weights_only=True``). Files are
written through a temporary ``.tmp-*`` file and a rename; stale temporary files of a killed run
are removed when the folder is opened again.
"""
from __future__ import annotations

import csv
import io
import json
import os
from typing import Any, Dict, List, Optional

import numpy as np

from pyagc.runner.checkpoint import TMP_PREFIX, atomic_write_text
from pyagc.runner.config import dump_config, load_yaml_file
from pyagc.utils.validation import ConfigError

#: The subfolders of a results folder (besides itself and each ``checkpoints/run<i>``) that
#: hold files written atomically (through ``.tmp-*``).
_ATOMIC_FOLDERS = ("runs", "labels", "checkpoints", "plots")


def check_output_file(path: str, what: str = "--output") -> str:
    """Refuse an output file path that is an existing folder, before any work is done."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"{what} {path!r} is a folder; give a file name such as "
                                f"{os.path.join(path, 'labels.csv')!r}.")
    return path


def write_labels(labels, path: str) -> str:
    """Write one cluster id per node: ``.npy`` (NumPy) or CSV ``node,cluster`` otherwise.

    Raises:
        IsADirectoryError: ``path`` is a folder.
    """
    check_output_file(path, "The labels file")
    labels = np.asarray(labels.cpu().numpy() if hasattr(labels, "cpu") else labels,
                        dtype=np.int64).reshape(-1)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if path.lower().endswith(".npy"):
        from pyagc.runner.checkpoint import atomic_write_bytes
        buffer = io.BytesIO()
        np.save(buffer, labels, allow_pickle=False)
        atomic_write_bytes(path, buffer.getvalue())
    else:
        buffer = io.StringIO()
        buffer.write("node,cluster\n")
        for node, cluster in enumerate(labels.tolist()):
            buffer.write(f"{node},{cluster}\n")
        atomic_write_text(path, buffer.getvalue())
    return path


class ResultsWriter:
    """Writes (and on ``--resume`` reads back) the results folder ``out_dir``.

    Raises:
        NotADirectoryError: ``out_dir`` (or a folder above it) is an existing file.
        FileNotFoundError: ``resume`` and ``out_dir`` holds no earlier run.
        ValueError: not ``resume`` and ``out_dir`` holds finished results.
    """

    def __init__(self, out_dir: str, resume: bool = False) -> None:
        self.out_dir = os.path.abspath(out_dir)
        _refuse_file_in_path(self.out_dir)
        if resume and not os.path.isfile(os.path.join(self.out_dir, "config.yaml")):
            raise FileNotFoundError(f"Nothing to resume in {self.out_dir}: it has no "
                                    "config.yaml from an earlier run.")
        if not resume and os.path.isfile(os.path.join(self.out_dir, "results.json")):
            raise ValueError(f"{self.out_dir} already holds finished results; choose another "
                             "--out folder (or add --resume to continue an interrupted run).")
        self.resume = resume
        self._projected = None  # (embedding, (projection, seed), project_2d's result)
        os.makedirs(self.out_dir, exist_ok=True)
        self.removed_temporaries = self._remove_stale_temporaries()

    def _remove_stale_temporaries(self) -> List[str]:
        """Delete the ``.tmp-*`` files a killed run left (a write cut off before its
        rename); only in the folders this writer writes to."""
        removed = []
        folders = [self.out_dir] + [self.path(name) for name in _ATOMIC_FOLDERS]
        checkpoints = self.path("checkpoints")
        if os.path.isdir(checkpoints):
            folders += [os.path.join(checkpoints, name) for name in os.listdir(checkpoints)]
        for folder in folders:
            if not os.path.isdir(folder):
                continue
            for name in os.listdir(folder):
                target = os.path.join(folder, name)
                if name.startswith(TMP_PREFIX) and os.path.isfile(target):
                    os.unlink(target)
                    removed.append(target)
        return removed

    def path(self, *parts: str) -> str:
        return os.path.join(self.out_dir, *parts)

    def check_or_write_config(self, config: Dict[str, Any]) -> None:
        target = self.path("config.yaml")
        if self.resume:
            try:
                saved = load_yaml_file(target, what="The saved config")
            except ConfigError as err:
                raise ConfigError(f"{err} It was changed after the run started, so the run "
                                  "cannot be resumed; start afresh with another --out "
                                  "folder.") from None
            if saved != json.loads(json.dumps(config)):
                raise ValueError(f"The options differ from those of the run in {self.out_dir} "
                                 "(see its config.yaml); resume with the same command.")
            return
        dump_config(config, target)

    def load_run(self, run: int) -> Optional[Dict[str, Any]]:
        target = self.path("runs", f"run{run}.json")
        if not os.path.isfile(target):
            return None
        try:
            with open(target, encoding="utf-8") as handle:
                record = json.load(handle)
        except (ValueError, UnicodeDecodeError):
            record = None
        if not isinstance(record, dict) or not _RUN_KEYS <= set(record):
            raise ValueError(f"{target} is not a run record written by pyagc (it was changed "
                             "or damaged); delete it to run that run again.")
        return record

    def write_run(self, result, save_labels: bool = False) -> None:
        record = result.record()
        record["history"] = result.history
        atomic_write_text(self.path("runs", f"run{result.run}.json"),
                          json.dumps(record, indent=2))
        if save_labels:
            write_labels(result.labels, self.path("labels", f"run{result.run}.csv"))
            write_labels(result.labels, self.path("labels", f"run{result.run}.npy"))

    def plot_run(self, result, classes=None, projection: str = "tsne", title: str = "",
                 seed: Optional[int] = None) -> List[str]:
        """Draw the figures of one run into ``plots/`` (see the module docstring): the
        embedding map, the cluster × class table when ``classes`` (one per node) is given,
        the loss curves when the run trained. The map's sample and projection are seeded by
        ``seed`` (default: the run's), so that runs sharing one embedding share one map,
        projected once. Returns the paths written."""
        from pyagc.runner.plots import (contingency_figure, embedding_figure, loss_figure,
                                        project_2d, save_figure)
        run = result.run
        name = f"{title}, run {run}" if title else f"Run {run}"
        seed = result.seed if seed is None else seed
        written = []
        if result.embedding is not None:
            # Keep the embedding itself (not its id, which a new tensor may reuse).
            cached = self._projected
            if cached is None or cached[0] is not result.embedding \
                    or cached[1] != (projection, seed):
                cached = (result.embedding, (projection, seed),
                          project_2d(result.embedding, projection, seed))
                self._projected = cached
            written.append(save_figure(
                embedding_figure(result.embedding, result.labels, classes,
                                 projection=projection, seed=seed, title=name,
                                 projected=cached[2]),
                self.path("plots", f"embedding_run{run}.png")))
        if classes is not None:
            written.append(save_figure(contingency_figure(classes, result.labels, title=name),
                                       self.path("plots", f"contingency_run{run}.png")))
        if result.history:
            written.append(save_figure(loss_figure(result.history, title=f"{name}: loss"),
                                       self.path("plots", f"loss_run{run}.png")))
        return written

    def figures(self) -> List[str]:
        """The PNG files under ``plots/``, sorted."""
        folder = self.path("plots")
        if not os.path.isdir(folder):
            return []
        return [os.path.join(folder, name) for name in sorted(os.listdir(folder))
                if name.endswith(".png") and not name.startswith(TMP_PREFIX)]

    def finalize(self, experiment) -> None:
        from pyagc.runner.report import markdown_summary
        records = experiment.records
        histories = []
        for record in records:
            full = self.load_run(record["run"]) or {}
            histories.append((record["run"], full.get("history", [])))
        atomic_write_text(self.path("results.json"), json.dumps(
            {"method": experiment.method, "family": experiment.family,
             "dataset": experiment.dataset, "device": experiment.device,
             "runs": records, "summary": experiment.summary}, indent=2))
        atomic_write_text(self.path("results.csv"), _runs_csv(records))
        atomic_write_text(self.path("loss_curve.csv"), _loss_csv(histories))
        atomic_write_text(self.path("summary.md"), markdown_summary([experiment]) + "\n")
        self.write_report(experiment)

    def write_report(self, experiment) -> str:
        """Write ``report.html`` (:func:`pyagc.runner.html_report.run_report`)."""
        from pyagc.runner.html_report import run_report
        files = [name for name in ("config.yaml", "results.json", "results.csv",
                                   "summary.md", "loss_curve.csv", "run.log")
                 if os.path.isfile(self.path(name))]
        target = self.path("report.html")
        atomic_write_text(target, run_report(experiment, self.figures(), files))
        return target


def write_bench_report(folder: str, experiments: List[Any], failures: List[str] = ()
                       ) -> str:
    """Write a benchmark's ``bench.png`` (:func:`pyagc.runner.plots.bench_figure`, when
    matplotlib is installed) and ``report.html`` (:func:`pyagc.runner.html_report.bench_report`)
    into ``folder``; returns the report's path."""
    from pyagc.runner.html_report import bench_report
    from pyagc.runner.plots import bench_figure, has_matplotlib, save_figure
    figure = None
    if has_matplotlib():
        figure = save_figure(bench_figure(experiments), os.path.join(folder, "bench.png"))
    folders = [os.path.relpath(e.out_dir, folder) if e.out_dir else "" for e in experiments]
    target = os.path.join(folder, "report.html")
    atomic_write_text(target, bench_report(experiments, figure, failures,
                                           folders if all(folders) else ()))
    return target


_RUN_KEYS = {"run", "seed", "metrics", "times", "memory_mb", "epochs"}


def _refuse_file_in_path(folder: str) -> None:
    """A clear error when ``folder``, or a folder above it, is an existing file."""
    here = folder
    while here and not os.path.exists(here):
        parent = os.path.dirname(here)
        if parent == here:
            return
        here = parent
    if here and not os.path.isdir(here):
        what = "is" if here == folder else f"is inside {here!r}, which is"
        raise NotADirectoryError(f"The results folder {folder!r} {what} an existing file, "
                                 "not a folder; choose another --out.")


def _runs_csv(records: List[Dict[str, Any]]) -> str:
    metric_keys = list(dict.fromkeys(k for r in records for k in r["metrics"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["run", "seed", *metric_keys, "time_train", "time_inference",
                     "time_clustering", "time_total", "memory_mb", "epochs"])
    for r in records:
        writer.writerow([r["run"], r["seed"], *[r["metrics"].get(k) for k in metric_keys],
                         *[r["times"][k] for k in ("train", "inference", "clustering", "total")],
                         r["memory_mb"], r["epochs"]])
    return buffer.getvalue()


def _loss_csv(histories) -> str:
    components = list(dict.fromkeys(name for _, history in histories for row in history
                                    for name in row.get("components") or {}))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["run", "stage", "epoch", "loss", *components])
    for run, history in histories:
        for row in history:
            parts = row.get("components") or {}
            writer.writerow([run, row["stage"], row["epoch"], row["loss"],
                             *[parts.get(name, "") for name in components]])
    return buffer.getvalue()
