"""pyagc.sampling — mini-batch sampling without native extensions.

* :class:`NeighborLoader` — PyG-compatible neighbour loader (PyG's sampler when pyg-lib or
  torch-sparse is installed, :class:`VectorizedNeighborSampler` otherwise).
* :func:`random_walk` / :func:`walk_windows` — uniform and node2vec-biased random walks and
  the (start, context) windows built from them.
"""
from pyagc.sampling.csr import CompressedGraph
from pyagc.sampling.neighbor_sampler import VectorizedNeighborSampler
from pyagc.sampling.neighbor_loader import NeighborLoader, neighbor_loader, pyg_sampler_available
from pyagc.sampling.random_walk import (check_walk_settings, random_walk, walk_graph,
                                       walk_windows)

__all__ = [
    "CompressedGraph",
    "VectorizedNeighborSampler",
    "NeighborLoader",
    "neighbor_loader",
    "pyg_sampler_available",
    "check_walk_settings",
    "random_walk",
    "walk_graph",
    "walk_windows",
]
