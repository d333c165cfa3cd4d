"""pyagc.models — base classes and the published method suite."""
from pyagc.models.base import BaseModel, ClusteringModel, LossOutput, TrainableModel, check_finite_loss
from pyagc.models.sgc import SGC
from pyagc.models.ssgc import SSGC
from pyagc.models.nafs import NAFS
from pyagc.models.sagsc import SAGSC
from pyagc.models.s2cag import MS2CAG, S2CAG
from pyagc.models.node2vec import Node2Vec
from pyagc.models.gae import GAE, VGAE
from pyagc.models.arga import ARGA, ARGVA
from pyagc.models.dgi import DGI
from pyagc.models.dmon import DMoN

__all__ = ["LossOutput", "BaseModel", "TrainableModel", "ClusteringModel", "check_finite_loss",
           "SGC", "SSGC", "NAFS", "SAGSC", "S2CAG", "MS2CAG", "Node2Vec",
           "GAE", "VGAE", "ARGA", "ARGVA", "DGI", "DMoN"]
