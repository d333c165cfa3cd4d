"""pyagc.sampling — mini-batch sampling without native extensions.

* :class:`NeighborLoader` — PyG-compatible neighbour loader (PyG's sampler when pyg-lib or
  torch-sparse is installed, :class:`VectorizedNeighborSampler` otherwise);
  :class:`InverseSamplingWeights` re-weights its sampled edges for GCN normalisation;
  :class:`EdgePairNeighborLoader` adds uniformly drawn edges' endpoints to each batch's seeds.
* :func:`random_walk` / :func:`walk_windows` — uniform and node2vec-biased random walks and
  the (start, context) windows built from them.
* :func:`walk_positive_pairs` / :class:`MAGIRandomWalkSampler` / :class:`MAGINeighborLoader` —
  positive pairs from the modularity of a random-walk similarity (MAGI), for the whole graph
  or for two-stage random-walk mini-batches.
"""
from pyagc.sampling.csr import CompressedGraph
from pyagc.sampling.neighbor_sampler import VectorizedNeighborSampler
from pyagc.sampling.neighbor_loader import (EdgePairNeighborLoader, InverseSamplingWeights,
                                            NeighborLoader,
                                            fan_out_per_hop, neighbor_loader,
                                            pyg_sampler_available)
from pyagc.sampling.random_walk import (check_walk_settings, random_walk, walk_graph,
                                       walk_windows)
from pyagc.sampling.modularity_walks import (MAGINeighborLoader, MAGIRandomWalkSampler,
                                             modularity_positive_pairs, walk_counts,
                                             walk_positive_pairs)

__all__ = [
    "CompressedGraph",
    "VectorizedNeighborSampler",
    "NeighborLoader",
    "EdgePairNeighborLoader",
    "InverseSamplingWeights",
    "fan_out_per_hop",
    "neighbor_loader",
    "pyg_sampler_available",
    "check_walk_settings",
    "random_walk",
    "walk_graph",
    "walk_windows",
    "modularity_positive_pairs",
    "walk_counts",
    "walk_positive_pairs",
    "MAGIRandomWalkSampler",
    "MAGINeighborLoader",
]
