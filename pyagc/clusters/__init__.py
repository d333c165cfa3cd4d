"""pyagc.clusters — cluster heads turning embeddings into assignments."""
from pyagc.clusters.base import BaseClusterHead
from pyagc.clusters.kmeans import TorchKMeans
from pyagc.clusters.kmeans_head import KMeansClusterHead
from pyagc.clusters.dmon_head import DMoNClusterHead
from pyagc.clusters.dec_head import DECClusterHead
from pyagc.clusters.dink_head import DinkClusterHead
from pyagc.clusters.inc_head import INCClusterHead
from pyagc.clusters.mincut_head import MinCutClusterHead
from pyagc.clusters.neuromap_head import NeuromapClusterHead
from pyagc.clusters.sbm_head import SBMClusterHead, SBMMatchClusterHead

__all__ = ["BaseClusterHead", "TorchKMeans", "KMeansClusterHead", "DMoNClusterHead",
           "DECClusterHead", "DinkClusterHead", "INCClusterHead", "MinCutClusterHead",
           "NeuromapClusterHead", "SBMClusterHead", "SBMMatchClusterHead"]
