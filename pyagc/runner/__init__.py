"""pyagc.runner — one experiment runner for every method.

* :mod:`~pyagc.runner.registry` — :func:`get_method` / :func:`list_methods`: the methods are
  the model classes of :mod:`pyagc.models`, which describe themselves (the runner holds no
  per-method code);
* :mod:`~pyagc.runner.config` — packaged YAML configs, per-dataset overrides, ``--set``;
* :mod:`~pyagc.runner.recipe` — the generic training loop (epochs, lr, weight decay, patience
  on the loss, stages, mini-batches, checkpoints and resume);
* :mod:`~pyagc.runner.experiment` — data loading, embed/predict, KMeans, metrics, runs;
* :mod:`~pyagc.runner.outputs` / :mod:`~pyagc.runner.report` — results folder and tables;
  :mod:`~pyagc.runner.plots` / :mod:`~pyagc.runner.html_report` — figures and ``report.html``.
"""
from pyagc.runner.registry import FAMILIES, get_method, list_methods
from pyagc.runner.config import ConfigError, resolve_config
from pyagc.runner.experiment import (ExperimentResult, RunResult, load_data, run_experiment,
                                     run_once)
from pyagc.runner.report import markdown_summary, run_table

__all__ = ["FAMILIES", "get_method", "list_methods", "ConfigError", "resolve_config", "load_data", "run_once",
           "run_experiment", "ExperimentResult", "RunResult", "markdown_summary", "run_table"]
