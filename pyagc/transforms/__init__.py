"""pyagc.transforms — graph augmentations (PyG ``BaseTransform`` s) for self-supervised views."""
from pyagc.transforms.augment import (GSSLTransform, RandomDropEdge, RandomMaskFeat,
                                      mask_feature_columns)

__all__ = ["RandomMaskFeat", "RandomDropEdge", "GSSLTransform", "mask_feature_columns"]
