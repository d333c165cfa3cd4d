"""Checks applied wherever a graph enters pyagc (loaders, the runner, the CLI)."""
from __future__ import annotations

import torch
from torch_geometric.data import Data

# the tensor checks are generic (ops and metrics use them too): they live in pyagc.utils
from pyagc.utils.validation import check_edge_index, check_features, check_labels

__all__ = ["validate_graph", "check_edge_index", "check_features", "check_labels"]


def validate_graph(data: Data) -> Data:
    """Check a PyG :class:`Data` before clustering and return a cleaned shallow copy.

    Requires at least one node and, when present, ``x`` of shape ``[N, F]`` with finite values,
    ``edge_index`` with ids in ``[0, N)``, ``y`` with ``N`` entries and ``edge_weight`` with one
    finite value per edge. Self-loops and duplicate edges are accepted as given (operators that
    need a simple graph remove them; the normalised adjacency adds its own self-loops).
    """
    if not isinstance(data, Data):
        raise TypeError(f"Expected a torch_geometric.data.Data, got {type(data).__name__}.")
    num_nodes = data.num_nodes
    if not num_nodes:
        raise ValueError("The graph is empty (0 nodes); there is nothing to cluster.")
    out = data.clone()
    if out.x is not None:
        out.x = check_features(out.x, num_nodes)
    if out.edge_index is None:
        raise ValueError("The graph has no edge_index; give an empty tensor of shape [2, 0] for a "
                         "graph without edges.")
    out.edge_index = check_edge_index(out.edge_index, num_nodes)
    weight = getattr(out, "edge_weight", None)
    if weight is not None:
        if weight.dim() != 1 or weight.numel() != out.edge_index.size(1):
            raise ValueError(f"edge_weight must have one value per edge ({out.edge_index.size(1)}), "
                             f"got shape {list(weight.shape)}.")
        if not torch.isfinite(weight).all():
            raise ValueError("edge_weight contains NaN or infinite values.")
        out.edge_weight = weight.float()
    if getattr(out, "y", None) is not None:
        out.y = check_labels(out.y, num_nodes)
    return out
