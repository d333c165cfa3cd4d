"""Checks applied wherever a graph enters pyagc (loaders, the runner, the CLI)."""
from __future__ import annotations

import torch
from torch_geometric.data import Data

# the tensor checks are generic (ops and metrics use them too): they live in pyagc.utils
from pyagc.utils.validation import (as_array_tensor, check_edge_index, check_features,
                                    check_labels)

__all__ = ["validate_graph", "check_edge_index", "check_features", "check_labels"]


def validate_graph(data: Data) -> Data:
    """Check a PyG :class:`Data` before clustering and return a cleaned shallow copy.

    Every graph that reaches a method passes here (:func:`pyagc.data.load_graph`,
    :func:`pyagc.cluster`, the runner and the CLI), so the same input gets the same checks
    whichever way it came in.

    Requires at least one node and, when present, ``x`` of shape ``[N, F]`` (``F >= 1``) with
    finite values, ``edge_index`` of shape ``[2, E]`` with ids in ``[0, N)``, ``y`` with ``N``
    integer entries and ``edge_weight`` with one finite, non-negative value per edge. Tensors,
    NumPy arrays and lists are accepted. Self-loops and duplicate edges are accepted as given
    (operators that need a simple graph remove them; the normalised adjacency adds its own
    self-loops).

    Features and edge weights are cast to ``torch.get_default_dtype()`` (``float32`` unless
    changed), the dtype the models' parameters are created in: float64 (or integer, bool,
    float16) features then work with every method, instead of failing inside a layer.

    Raises:
        TypeError: ``data`` is not a ``Data``; strings or objects where numbers belong.
        ValueError: one message per problem (empty graph, shapes, ids, NaN, lengths).
    """
    if not isinstance(data, Data):
        raise TypeError(f"Expected a torch_geometric.data.Data, got {type(data).__name__}.")
    num_nodes = data.num_nodes
    if not num_nodes:
        raise ValueError("The graph is empty (0 nodes); there is nothing to cluster.")
    out = data.clone()
    dtype = torch.get_default_dtype()
    if out.x is not None:
        out.x = check_features(out.x, num_nodes).to(dtype)
    if out.edge_index is None:
        raise ValueError("The graph has no edge_index; give an empty tensor of shape [2, 0] for a "
                         "graph without edges.")
    out.edge_index = check_edge_index(out.edge_index, num_nodes)
    weight = getattr(out, "edge_weight", None)
    if weight is not None:
        weight = as_array_tensor(weight, "edge_weight", "one number per edge")
        if weight.dim() != 1 or weight.numel() != out.edge_index.size(1):
            raise ValueError(f"edge_weight must have one value per edge ({out.edge_index.size(1)}), "
                             f"got shape {list(weight.shape)}.")
        if weight.is_complex():
            raise TypeError(f"edge_weight must hold real numbers, got dtype {weight.dtype}.")
        weight = weight.to(dtype)
        if not torch.isfinite(weight).all():
            raise ValueError("edge_weight contains NaN or infinite values.")
        if weight.numel() and float(weight.min()) < 0:
            raise ValueError(f"edge_weight contains the negative weight {float(weight.min())}; "
                             "edge weights must be non-negative (the normalised adjacency and "
                             "modularity are undefined otherwise).")
        out.edge_weight = weight
    if getattr(out, "y", None) is not None:
        out.y = check_labels(out.y, num_nodes)
    return out
