"""pyagc — attributed graph clustering with PyTorch and PyTorch Geometric."""
__version__ = "0.1.0"

from pyagc.api import ClusterResult, auto, cluster  # noqa: E402  (the one-call API; light import)

__all__ = ["cluster", "auto", "ClusterResult", "__version__"]
