"""pyagc.models — base classes and the published method suite."""
from pyagc.models.base import BaseModel, ClusteringModel, LossOutput, TrainableModel, check_finite_loss

__all__ = ["LossOutput", "BaseModel", "TrainableModel", "ClusteringModel", "check_finite_loss"]
