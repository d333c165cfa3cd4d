"""pyagc.clusters — cluster heads turning embeddings into assignments."""
from pyagc.clusters.base import BaseClusterHead
from pyagc.clusters.kmeans import TorchKMeans
from pyagc.clusters.kmeans_head import KMeansClusterHead
from pyagc.clusters.dmon_head import DMoNClusterHead

__all__ = ["BaseClusterHead", "TorchKMeans", "KMeansClusterHead", "DMoNClusterHead"]
