"""pyagc.runner — one experiment runner for every method.

* :mod:`~pyagc.runner.registry` — :class:`MethodSpec` / :func:`register_method`: a method is
  a builder from its config plus its ECO family;
* :mod:`~pyagc.runner.config` — packaged YAML configs, per-dataset overrides, ``--set``;
* :mod:`~pyagc.runner.recipe` — the generic training loop (epochs, lr, weight decay, patience
  on the loss, stages, mini-batches, checkpoints and resume);
* :mod:`~pyagc.runner.experiment` — data loading, embed/predict, KMeans, metrics, runs;
* :mod:`~pyagc.runner.outputs` / :mod:`~pyagc.runner.report` — results folder and tables.
"""
from pyagc.runner.registry import (FAMILIES, MethodSpec, get_method, list_methods,
                                   register_method, unregister_method)
from pyagc.runner import methods as _methods  # noqa: F401  (registers the built-in methods)
from pyagc.runner.config import ConfigError, resolve_config
from pyagc.runner.experiment import (ExperimentResult, RunResult, load_data, run_experiment,
                                     run_once)
from pyagc.runner.report import markdown_summary, run_table

__all__ = ["FAMILIES", "MethodSpec", "register_method", "unregister_method", "get_method",
           "list_methods", "ConfigError", "resolve_config", "load_data", "run_once",
           "run_experiment", "ExperimentResult", "RunResult", "markdown_summary", "run_table"]
