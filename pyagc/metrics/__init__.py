"""pyagc.metrics — label agreement (NMI, ARI, ACC, F1, Homo, Comp) and graph structure (Mod, Cond)."""
from pyagc.metrics.label import cluster_matching, clustering_accuracy, label_metrics
from pyagc.metrics.structure import conductance, modularity, structure_metrics

__all__ = ["label_metrics", "clustering_accuracy", "cluster_matching", "structure_metrics",
           "modularity", "conductance"]
