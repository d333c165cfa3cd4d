"""The metric and timing keys of a run record (shared by the experiment and its reports)."""
from __future__ import annotations

__all__ = ["LABEL_METRICS", "STRUCTURE_METRICS", "TIME_KEYS"]

#: Metrics against ground-truth labels (:func:`pyagc.metrics.label_metrics`).
LABEL_METRICS = ("NMI", "ARI", "ACC", "F1", "Homo", "Comp")
#: Label-free metrics of the partition on the graph (:func:`pyagc.metrics.structure_metrics`).
STRUCTURE_METRICS = ("Mod", "Cond")
#: Timed phases of a run; a record holds ``time_<key>`` in seconds.
TIME_KEYS = ("train", "inference", "clustering", "total")
