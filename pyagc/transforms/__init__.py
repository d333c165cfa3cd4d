"""pyagc.transforms — graph augmentations (PyG ``BaseTransform`` s) for self-supervised views."""
from pyagc.transforms.augment import GSSLTransform, RandomDropEdge, RandomMaskFeat

__all__ = ["RandomMaskFeat", "RandomDropEdge", "GSSLTransform"]
