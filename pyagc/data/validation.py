"""Checks applied wherever a graph enters pyagc (loaders, the runner, the CLI)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torch_geometric.data import Data


def check_edge_index(edge_index: Tensor, num_nodes: Optional[int] = None,
                     name: str = "edge_index") -> Tensor:
    """Validate an edge list of shape ``[2, E]`` with ids in ``[0, num_nodes)``.

    Returns it as a contiguous ``torch.long`` tensor. Raises :class:`ValueError` naming the
    problem (wrong shape, non-integer ids, negative or out-of-range ids).
    """
    if not isinstance(edge_index, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [2, num_edges], "
                        f"got {type(edge_index).__name__}.")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        hint = " (transpose it with .t())" if edge_index.dim() == 2 and edge_index.size(1) == 2 else ""
        raise ValueError(f"{name} must have shape [2, num_edges], got {list(edge_index.shape)}{hint}.")
    if edge_index.is_floating_point() or edge_index.is_complex() or edge_index.dtype == torch.bool:
        if edge_index.is_floating_point() and edge_index.numel() and \
                not torch.equal(edge_index, edge_index.round()):
            raise ValueError(f"{name} holds non-integer node ids; node ids must be integers.")
        if not edge_index.is_floating_point():
            raise ValueError(f"{name} must hold integer node ids, got dtype {edge_index.dtype}.")
    edge_index = edge_index.long().contiguous()
    if edge_index.numel():
        low = int(edge_index.min())
        if low < 0:
            raise ValueError(f"{name} contains the negative node id {low}; node ids must be "
                             "0-based non-negative integers.")
        if num_nodes is not None:
            high = int(edge_index.max())
            if high >= num_nodes:
                raise ValueError(f"{name} refers to node {high} but the graph has only {num_nodes} "
                                 f"nodes (ids must be < {num_nodes}); check num_nodes or the features.")
    return edge_index


def check_features(x: Tensor, num_nodes: Optional[int] = None, name: str = "x") -> Tensor:
    """Validate a node feature matrix ``[N, F]``: floating point (converted), finite values."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [num_nodes, num_features], "
                        f"got {type(x).__name__}.")
    if x.layout != torch.strided:  # COO, CSR, CSC...: the checks below need a dense tensor
        x = x.to_dense()
    if x.dim() == 1:
        raise ValueError(f"{name} must have shape [num_nodes, num_features], got a 1-D tensor of "
                         f"length {x.numel()}; use x.unsqueeze(1) for a single feature.")
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape [num_nodes, num_features], got {list(x.shape)}.")
    if num_nodes is not None and x.size(0) != num_nodes:
        raise ValueError(f"{name} has {x.size(0)} rows but the graph has {num_nodes} nodes.")
    if not x.is_floating_point():
        x = x.float()
    bad = ~torch.isfinite(x)
    if bad.any():
        rows = torch.nonzero(bad.any(dim=1)).flatten()
        raise ValueError(f"{name} contains NaN or infinite values in {rows.numel()} rows "
                         f"(first: node {int(rows[0])}); impute or drop them before clustering.")
    return x


def check_labels(y: Tensor, num_nodes: int, name: str = "y") -> Tensor:
    """Validate node labels: a 1-D integer vector of length ``num_nodes`` (negative = unlabelled)."""
    if not isinstance(y, Tensor):
        y = torch.as_tensor(y)
    if y.dim() == 2 and y.size(1) == 1:
        y = y.view(-1)
    if y.dim() != 1:
        raise ValueError(f"{name} must be a 1-D vector of class ids, got shape {list(y.shape)}.")
    if y.numel() != num_nodes:
        raise ValueError(f"{name} has {y.numel()} labels but the graph has {num_nodes} nodes.")
    if y.is_floating_point():
        if not torch.equal(y, y.round()):
            raise ValueError(f"{name} holds non-integer labels; class ids must be integers.")
    return y.long()


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
