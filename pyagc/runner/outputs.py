"""The results folder of an experiment.

::

    <out>/config.yaml          resolved config (method, dataset, model/train/cluster sections)
    <out>/run.log              log of the whole experiment
    <out>/runs/run<i>.json     metrics, times, memory of run i (written when the run ends)
    <out>/results.csv          one row per run
    <out>/results.json         all runs and the mean/std summary
    <out>/summary.md           the Markdown summary table
    <out>/loss_curve.csv       run, stage, epoch, loss
    <out>/checkpoints/run<i>/{best,last}.pt
    <out>/labels/run<i>.csv|.npy   with --save-labels
    <out>/plots/*.png              with --plot
"""
from __future__ import annotations

import csv
import io
import json
import os
from typing import Any, Dict, List, Optional

import numpy as np
import yaml

from pyagc.runner.checkpoint import atomic_write_text
from pyagc.runner.config import dump_config


def write_labels(labels, path: str) -> str:
    """Write one cluster id per node: ``.npy`` (NumPy) or CSV ``node,cluster`` otherwise."""
    labels = np.asarray(labels.cpu().numpy() if hasattr(labels, "cpu") else labels,
                        dtype=np.int64).reshape(-1)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if path.lower().endswith(".npy"):
        np.save(path, labels)
    else:
        buffer = io.StringIO()
        buffer.write("node,cluster\n")
        for node, cluster in enumerate(labels.tolist()):
            buffer.write(f"{node},{cluster}\n")
        atomic_write_text(path, buffer.getvalue())
    return path


class ResultsWriter:
    """Writes (and on ``--resume`` reads back) the results folder ``out_dir``."""

    def __init__(self, out_dir: str, resume: bool = False) -> None:
        self.out_dir = os.path.abspath(out_dir)
        if resume and not os.path.isfile(os.path.join(self.out_dir, "config.yaml")):
            raise FileNotFoundError(f"Nothing to resume in {self.out_dir}: it has no "
                                    "config.yaml from an earlier run.")
        if not resume and os.path.isfile(os.path.join(self.out_dir, "results.json")):
            raise ValueError(f"{self.out_dir} already holds finished results; choose another "
                             "--out folder (or add --resume to continue an interrupted run).")
        self.resume = resume
        os.makedirs(self.out_dir, exist_ok=True)

    def path(self, *parts: str) -> str:
        return os.path.join(self.out_dir, *parts)

    def check_or_write_config(self, config: Dict[str, Any]) -> None:
        target = self.path("config.yaml")
        if self.resume:
            with open(target) as handle:
                saved = yaml.safe_load(handle)
            if saved != json.loads(json.dumps(config)):
                raise ValueError(f"The options differ from those of the run in {self.out_dir} "
                                 "(see its config.yaml); resume with the same command.")
            return
        dump_config(config, target)

    def load_run(self, run: int) -> Optional[Dict[str, Any]]:
        target = self.path("runs", f"run{run}.json")
        if not os.path.isfile(target):
            return None
        with open(target) as handle:
            return json.load(handle)

    def write_run(self, result, save_labels: bool = False) -> None:
        record = result.record()
        record["history"] = result.history
        atomic_write_text(self.path("runs", f"run{result.run}.json"),
                          json.dumps(record, indent=2))
        if save_labels:
            write_labels(result.labels, self.path("labels", f"run{result.run}.csv"))
            write_labels(result.labels, self.path("labels", f"run{result.run}.npy"))

    def plot_run(self, result) -> None:
        from pyagc.runner.plots import plot_embedding, plot_loss_curve
        if result.embedding is not None:
            plot_embedding(result.embedding, result.labels,
                           self.path("plots", f"embedding_run{result.run}.png"),
                           title=f"Run {result.run}: embedding coloured by cluster",
                           seed=result.seed)
        if result.history:
            plot_loss_curve(result.history, self.path("plots", f"loss_run{result.run}.png"))

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
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["run", "stage", "epoch", "loss"])
    for run, history in histories:
        for row in history:
            writer.writerow([run, row["stage"], row["epoch"], row["loss"]])
    return buffer.getvalue()
