"""Checks applied at pyagc's boundaries (public functions, loaders, configs).

Scalar arguments (:func:`check_scalar`) and the tensors every layer takes: edge lists,
node features and labels. Checks of whole PyG graphs live in :mod:`pyagc.data.validation`.
"""
from __future__ import annotations

import numbers
from typing import Any, Optional, Tuple, Type, Union

import numpy as np
import torch
from torch import Tensor

__all__ = ["ConfigError", "ScalarTypeError", "check_scalar", "check_edge_index",
           "check_features", "check_labels", "as_array_tensor"]


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


_NOT_NUMERIC = {"U": "strings", "S": "byte strings", "O": "Python objects",
                "M": "dates", "m": "time spans", "V": "raw records"}


def as_array_tensor(value: Any, name: str, expected: str) -> Tensor:
    """``value`` as a :class:`torch.Tensor`: tensors pass through, NumPy arrays, nested lists
    and SciPy sparse matrices (densified) are converted.

    Raises:
        TypeError: ``value`` holds strings, Python objects or other non-numbers (message names
            ``name`` and what was ``expected``).
        ValueError: ``value`` is ragged (rows of different lengths).
    """
    if isinstance(value, Tensor):
        return value
    if hasattr(value, "toarray") and hasattr(value, "nnz"):  # a SciPy sparse matrix
        try:
            value = value.toarray()
        except MemoryError:
            raise ValueError(f"{name} is a sparse matrix of shape {list(value.shape)}, too "
                             "large to densify in this machine's memory.") from None
    try:
        array = np.asarray(value)
    except ValueError:  # numpy's "inhomogeneous shape"
        raise ValueError(f"{name} must be {expected}, got a ragged sequence (its rows have "
                         "different lengths).") from None
    kind = _NOT_NUMERIC.get(array.dtype.kind)
    if kind is not None:
        raise TypeError(f"{name} must be {expected}, got an array of {kind} "
                        f"(dtype {array.dtype}).")
    return torch.as_tensor(array)


def check_edge_index(edge_index: Any, num_nodes: Optional[int] = None,
                     name: str = "edge_index") -> Tensor:
    """Validate an edge list of shape ``[2, E]`` with ids in ``[0, num_nodes)``.

    Accepts a tensor, a NumPy array or a nested list; integer ids, or floats holding whole
    numbers. Returns a contiguous ``torch.long`` tensor.

    Raises:
        TypeError: not numbers (strings, objects) or complex/bool ids.
        ValueError: the problem named: wrong shape (``[E, 2]``, a third row of weights, ...),
            non-integer, NaN, negative or out-of-range ids.
    """
    edge_index = as_array_tensor(edge_index, name, "integer node ids of shape [2, num_edges]")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        hint = ""
        if edge_index.dim() == 2 and edge_index.size(1) == 2:
            hint = " (transpose it with .t())"
        elif edge_index.dim() == 2 and edge_index.size(0) == 3:
            hint = (" (a third row is not read as edge weights: put them in Data.edge_weight, "
                    "or give pyagc.data.load_graph an [E, 3] edge list)")
        raise ValueError(f"{name} must have shape [2, num_edges], got {list(edge_index.shape)}"
                         f"{hint}.")
    if edge_index.is_complex() or edge_index.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer node ids, got dtype {edge_index.dtype}.")
    if edge_index.is_floating_point() and edge_index.numel():
        if not torch.isfinite(edge_index).all():
            raise ValueError(f"{name} holds NaN or infinite node ids; node ids must be "
                             "integers.")
        if not torch.equal(edge_index, edge_index.round()):
            raise ValueError(f"{name} holds non-integer node ids; node ids must be integers.")
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


def check_features(x: Any, num_nodes: Optional[int] = None, name: str = "x") -> Tensor:
    """Validate a node feature matrix ``[N, F]`` with ``F >= 1`` and finite values.

    Accepts a tensor (any sparse layout is densified), a NumPy array, a nested list or a SciPy
    sparse matrix. Integer and bool features are converted to ``float32``; floating point
    features keep their dtype (:func:`pyagc.data.validate_graph` casts them to the models'
    dtype).

    Raises:
        TypeError: strings, objects or complex numbers.
        ValueError: not 2-D, no feature column, a row count that is not ``num_nodes``, NaN or
            infinite values.
    """
    x = as_array_tensor(x, name, "a numeric matrix [num_nodes, num_features]")
    if x.layout != torch.strided:  # COO, CSR, CSC...: the checks below need a dense tensor
        x = x.to_dense()
    if x.dim() == 1:
        raise ValueError(f"{name} must be 2-D, of shape [num_nodes, num_features], got a 1-D "
                         f"tensor of length {x.numel()}; use x.unsqueeze(1) for a single "
                         "feature.")
    if x.dim() != 2:
        raise ValueError(f"{name} must be 2-D, of shape [num_nodes, num_features], got "
                         f"{list(x.shape)}.")
    if x.size(1) == 0:
        raise ValueError(f"{name} has no feature columns (shape {list(x.shape)}); give at least "
                         "one feature, or no features at all (None) for a method that uses the "
                         "graph structure only.")
    if num_nodes is not None and x.size(0) != num_nodes:
        raise ValueError(f"{name} has {x.size(0)} rows but the graph has {num_nodes} nodes.")
    if x.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}.")
    if not x.is_floating_point():
        x = x.float()
    # A finite sum proves every entry finite (NaN and inf propagate) at ~1/20 of the cost of
    # the element-wise mask (0.07 s against 1.6 s on a [2.4M, 100] float32 matrix); a
    # non-finite sum (NaN, inf, or an overflow of finite values) falls back to the mask.
    if x.numel() and torch.isfinite(x.sum()):
        return x
    bad = ~torch.isfinite(x)
    if bad.any():
        rows = torch.nonzero(bad.any(dim=1)).flatten()
        raise ValueError(f"{name} contains NaN or infinite values in {rows.numel()} rows "
                         f"(first: node {int(rows[0])}); impute or drop them before clustering.")
    return x


def check_labels(y: Any, num_nodes: Optional[int] = None, name: str = "y") -> Tensor:
    """Validate node labels: a 1-D vector of integer class ids of length ``num_nodes``
    (negative = unlabelled); ``[N, 1]`` is flattened. Returns a ``torch.long`` tensor.

    Accepts a tensor, a NumPy array or a list; floats holding whole numbers are accepted.

    Raises:
        TypeError: string (or other non-numeric) class names: map them to ids first, e.g.
            ``np.unique(names, return_inverse=True)[1]``.
        ValueError: wrong shape or length, non-integer, NaN or infinite values.
    """
    try:
        y = as_array_tensor(y, name, "a vector of integer class ids")
    except TypeError as err:
        raise TypeError(f"{err} Map class names to ids first, e.g. "
                        f"np.unique({name}, return_inverse=True)[1].") from None
    if y.dim() == 2 and y.size(1) == 1:
        y = y.view(-1)
    if y.dim() != 1:
        raise ValueError(f"{name} must be a 1-D vector of class ids, got shape {list(y.shape)}.")
    if num_nodes is not None and y.numel() != num_nodes:
        raise ValueError(f"{name} has {y.numel()} labels but the graph has {num_nodes} nodes.")
    if y.is_complex():
        raise TypeError(f"{name} must hold integer class ids, got dtype {y.dtype}.")
    if y.is_floating_point():
        if not torch.isfinite(y).all():
            raise ValueError(f"{name} holds NaN or infinite labels; class ids must be integers "
                             "(negative for unlabelled nodes).")
        if not torch.equal(y, y.round()):
            raise ValueError(f"{name} holds non-integer labels; class ids must be integers.")
    return y.long()
