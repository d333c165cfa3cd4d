"""pyagc.models — base classes and the published method suite.

This package is also the method registry: every concrete :class:`BaseModel` subclass imported
below is a method of ``pyagc run`` / ``pyagc.cluster``, found by its class name
(case-insensitive, ``-`` and ``_`` ignored, as :mod:`torch_geometric.nn.resolver` does). Adding
a method is its model file, its ``pyagc/configs/<Name>.yaml`` and one import line here.
"""
import inspect as _inspect
from typing import Dict, List, Type

from pyagc.models.base import (FAMILIES, BaseModel, ClusteringModel, LossOutput, TrainableModel,
                               check_finite_loss)

# The methods, in the order ``pyagc list`` shows them within each family.
from pyagc.models.kmeans import KMeans
from pyagc.models.node2vec import Node2Vec
from pyagc.models.sgc import SGC
from pyagc.models.ssgc import SSGC
from pyagc.models.nafs import NAFS
from pyagc.models.sagsc import SAGSC
from pyagc.models.s2cag import S2CAG, MS2CAG  # noqa: I001  (listing order)
from pyagc.models.gae import GAE, VGAE
from pyagc.models.arga import ARGA, ARGVA
from pyagc.models.dgi import DGI
from pyagc.models.ccassg import CCASSG
from pyagc.models.gbt import GBT
from pyagc.models.s3gc import S3GC
from pyagc.models.ns4gc import NS4GC
from pyagc.models.magi import MAGI
from pyagc.models.daegc import DAEGC
from pyagc.models.dinknet import DinkNet
from pyagc.models.dmon import DMoN
from pyagc.models.mincut import MinCut
from pyagc.models.neuromap import Neuromap
from pyagc.models.gcsbm import GCSBM


def _normalise(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def model_classes() -> Dict[str, Type[BaseModel]]:
    """Every method of the package, ``{class name: class}``, in family order."""
    found = [obj for obj in globals().values()
             if isinstance(obj, type) and issubclass(obj, BaseModel)
             and not _inspect.isabstract(obj) and obj.__module__ != BaseModel.__module__]
    found.sort(key=lambda cls: FAMILIES.index(cls.family))
    return {cls.__name__: cls for cls in found}


def resolve_model(name: str) -> Type[BaseModel]:
    """The model class called ``name`` (case-insensitive), with a clear error otherwise."""
    if isinstance(name, type) and issubclass(name, BaseModel):
        return name
    if not isinstance(name, str):
        raise TypeError(f"method must be a model name (str), got {type(name).__name__}.")
    classes = model_classes()
    for cls_name, cls in classes.items():
        if _normalise(cls_name) == _normalise(name):
            return cls
    raise ValueError(f"Unknown method {name!r}. Available: {', '.join(classes)}.")


def list_models() -> List[Type[BaseModel]]:
    """The model classes of :func:`model_classes`, as a list."""
    return list(model_classes().values())


__all__ = ["FAMILIES", "LossOutput", "BaseModel", "TrainableModel", "ClusteringModel",
           "check_finite_loss", "model_classes", "resolve_model", "list_models",
           *model_classes()]
