"""Checks applied at pyagc's boundaries (public functions, loaders, configs).

Scalar arguments (:func:`check_scalar`) and the tensors every layer takes: edge lists,
node features and labels. Checks of whole PyG graphs live in :mod:`pyagc.data.validation`.
"""
from __future__ import annotations

import numbers
from typing import Any, Optional, Tuple, Type, Union

import torch
from torch import Tensor

__all__ = ["ConfigError", "ScalarTypeError", "check_scalar", "check_edge_index",
           "check_features", "check_labels"]


class ConfigError(ValueError):
    """A config file or override that cannot be used (unknown key, bad YAML, bad value)."""


class ScalarTypeError(TypeError, ValueError):
    """A scalar argument of the wrong type (raised by :func:`check_scalar`).

    Both a :class:`TypeError` (what it is) and a :class:`ValueError` (what pyagc's argument
    checks raised before, so ``except ValueError`` callers keep working), like
    :class:`numpy.exceptions.AxisError` is both a ``ValueError`` and an ``IndexError``.
    """


_BOUNDARIES = ("both", "left", "right", "neither")


def _describe_type(types: Tuple[type, ...]) -> str:
    if all(issubclass(t, numbers.Integral) for t in types):
        return "an integer"
    if types == (float,):
        return "a float"
    if all(issubclass(t, numbers.Real) for t in types):
        return "a number"
    return "an instance of " + " or ".join(t.__qualname__ for t in types)


def check_scalar(x: Any, name: str, target_type: Union[Type, Tuple[Type, ...]], *,
                 min_val: Optional[Any] = None, max_val: Optional[Any] = None,
                 include_boundaries: str = "both") -> Any:
    """Check that a scalar argument has the right type and lies in a range; return it unchanged.

    Modelled on :func:`sklearn.utils.check_scalar`, with two differences: a ``bool`` is never
    accepted as a number (only when ``target_type`` names ``bool`` itself), and a NaN fails any
    bound (it is not in a range).

    Args:
        x: the value to check.
        name: the parameter's name, used in the error message (e.g. ``"K"`` or
            ``"train.epochs"``).
        target_type: the accepted type or tuple of types (e.g. ``int``, ``(int, float)``,
            :class:`numbers.Real`).
        min_val, max_val: optional bounds of the range.
        include_boundaries: which bounds are part of the range: ``'both'`` (``[min, max]``),
            ``'left'`` (``[min, max)``), ``'right'`` (``(min, max]``) or ``'neither'``
            (``(min, max)``).

    Raises:
        ScalarTypeError: ``x`` is not an instance of ``target_type`` (a subclass of both
            ``TypeError`` and ``ValueError``).
        ValueError: ``x`` lies outside the range, or the bounds given are inconsistent.
    """
    if include_boundaries not in _BOUNDARIES:
        raise ValueError(f"include_boundaries must be one of {_BOUNDARIES}, "
                         f"got {include_boundaries!r}.")
    if include_boundaries == "left" and min_val is None:
        raise ValueError("include_boundaries='left' needs min_val.")
    if include_boundaries == "right" and max_val is None:
        raise ValueError("include_boundaries='right' needs max_val.")
    types = target_type if isinstance(target_type, tuple) else (target_type,)
    low_closed = include_boundaries in ("both", "left")
    high_closed = include_boundaries in ("both", "right")
    if min_val is not None and max_val is not None:
        expected = (f"{_describe_type(types)} in {'[' if low_closed else '('}{min_val}, "
                    f"{max_val}{']' if high_closed else ')'}")
    elif min_val is not None:
        expected = f"{_describe_type(types)} {'>=' if low_closed else '>'} {min_val}"
    elif max_val is not None:
        expected = f"{_describe_type(types)} {'<=' if high_closed else '<'} {max_val}"
    else:
        expected = _describe_type(types)
    if not isinstance(x, types) or (isinstance(x, bool) and bool not in types):
        note = " (bool is not accepted as a number)" if isinstance(x, bool) else ""
        raise ScalarTypeError(f"{name} must be {expected}, got {x!r} of type "
                              f"{type(x).__qualname__}{note}.")
    # ``not (x >= low)`` rather than ``x < low``: NaN is outside every range
    if min_val is not None and not (x >= min_val if low_closed else x > min_val):
        raise ValueError(f"{name} must be {expected}, got {x!r}.")
    if max_val is not None and not (x <= max_val if high_closed else x < max_val):
        raise ValueError(f"{name} must be {expected}, got {x!r}.")
    return x


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
