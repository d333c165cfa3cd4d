"""Bring a user's own graph into pyagc: files, arrays, PyG ``Data`` or networkx graphs."""
from __future__ import annotations

import numbers
import os
from typing import Any, Optional, Union

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

from pyagc.data.validation import check_edge_index, check_features, check_labels, validate_graph
from pyagc.utils.validation import as_array_tensor, check_scalar

PathOrArray = Union[str, os.PathLike, np.ndarray, Tensor, sp.spmatrix, Any]


def load_graph(edges: Any, features: Optional[PathOrArray] = None,
               labels: Optional[PathOrArray] = None, num_nodes: Optional[int] = None,
               undirected: bool = True, drop_self_loops: bool = False) -> Data:
    """Build a validated PyG :class:`Data` from a user's graph.

    Args:
        edges: the edge list as a file (``.csv``/``.tsv``/``.txt``: two integer columns per
            line, optional third weight column, an optional header line; ``.npy``/``.npz``:
            an array of shape ``[E, 2]``/``[2, E]``), an array or tensor of those shapes, a
            :class:`~torch_geometric.data.Data` (``features``/``labels`` then override its
            ``x``/``y``), or a networkx graph (nodes are renumbered in iteration order; node
            attributes ``x`` and ``y`` become features and labels).
        features: node features ``[N, F]``: ``.npy``, ``.npz`` (a SciPy sparse matrix saved
            with ``scipy.sparse.save_npz``, or an archive holding one array), ``.csv``/``.tsv``,
            an array, a tensor or a SciPy sparse matrix (densified).
        labels: optional class per node ``[N]`` (``.npy``, ``.csv``/``.txt`` or an array);
            negative values mark unlabelled nodes.
        num_nodes: number of nodes; defaults to a ``Data``'s own ``num_nodes`` when it was
            set, else the features' rows, else ``max id + 1``, else the labels' length. Nodes
            without edges are kept (isolated nodes are allowed).
        undirected: add the reverse of every edge (the default, as clustering methods assume).
        drop_self_loops: remove ``i -> i`` edges. Duplicate edges are always merged (weights
            summed).

    Every graph then goes through :func:`~pyagc.data.validate_graph` (features cast to the
    default float dtype, weights checked), the one check of every entry point.

    Raises:
        FileNotFoundError: a file that does not exist.
        TypeError: strings or Python objects where numbers belong (e.g. class names as
            labels: map them to ids first).
        ValueError: one clear message per malformed input (shape, ids, NaN features, lengths,
            zero feature columns), or a file that is not what its extension says (named).
    """
    if num_nodes is not None:
        check_scalar(num_nodes, "num_nodes", numbers.Integral, min_val=1)
    check_scalar(undirected, "undirected", bool)
    check_scalar(drop_self_loops, "drop_self_loops", bool)
    if isinstance(edges, Data):
        data = edges.clone()
        if num_nodes is None and "num_nodes" in data.keys():
            num_nodes = data.num_nodes
    elif _is_networkx(edges):
        data = _from_networkx(edges)
    else:
        edge_index, edge_weight = _read_edges(edges)
        data = Data(edge_index=edge_index)
        if edge_weight is not None:
            data.edge_weight = edge_weight
    if features is not None:
        data.x = _read_matrix(features, "features")
    if getattr(data, "x", None) is not None:
        data.x = check_features(data.x)
    if labels is not None:
        data.y = _read_vector(labels)
    if getattr(data, "y", None) is not None:
        data.y = check_labels(data.y)

    data.edge_index = check_edge_index(data.edge_index)
    if num_nodes is None:
        if data.x is not None:
            num_nodes = data.x.size(0)
        elif data.edge_index.numel():
            num_nodes = int(data.edge_index.max()) + 1
        elif getattr(data, "y", None) is not None:
            num_nodes = int(data.y.numel())
        else:
            num_nodes = 0
    data.num_nodes = int(num_nodes)
    data = validate_graph(data)
    weight = getattr(data, "edge_weight", None)
    if drop_self_loops:
        data.edge_index, weight = remove_self_loops(data.edge_index, weight)
    if undirected:
        data.edge_index, weight = to_undirected(data.edge_index, weight, data.num_nodes)
    else:
        data.edge_index, weight = coalesce(data.edge_index, weight, data.num_nodes)
    if weight is not None:
        data.edge_weight = weight
    return data


def _is_networkx(obj: Any) -> bool:
    return type(obj).__module__.startswith("networkx")


def _from_networkx(graph) -> Data:
    nodes = list(graph.nodes())
    index = {node: i for i, node in enumerate(nodes)}
    pairs = [(index[u], index[v]) for u, v in graph.edges()]
    edge_index = torch.tensor(pairs, dtype=torch.long).t().reshape(2, -1)
    data = Data(edge_index=edge_index, num_nodes=len(nodes))
    weights = [w for _, _, w in graph.edges(data="weight")]
    if pairs and all(w is not None for w in weights):
        data.edge_weight = torch.tensor(weights, dtype=torch.float)
    attrs = graph.nodes(data=True)
    if nodes and all("x" in attrs[n] for n in nodes):
        data.x = check_features([attrs[n]["x"] for n in nodes], name="node attribute 'x'")
    if nodes and all("y" in attrs[n] for n in nodes):
        data.y = check_labels([attrs[n]["y"] for n in nodes], name="node attribute 'y'")
    return data


def _read_edges(edges: Any):
    """Edge ids ``[2, E]`` and optional weights. Files hold one edge per row (``[E, 2|3]``);
    arrays may be ``[2, E]`` (PyG's layout, preferred when both readings fit) or ``[E, 2|3]``."""
    from_file = isinstance(edges, (str, os.PathLike))
    if from_file:
        array = _read_table(edges, "edge list")
    else:
        array = as_array_tensor(edges, "The edge list", "integer node ids").numpy()
    if array.ndim == 2 and array.shape[0] == 0:
        array = array.reshape(0, 2)
    if array.ndim != 2 or (array.shape[0] not in (2, 3) and array.shape[1] not in (2, 3)):
        raise ValueError(f"The edge list must have shape [E, 2] or [2, E] (a third column/row "
                         f"may hold weights), got {list(array.shape)}.")
    rows_are_edges = from_file or array.shape[0] not in (2, 3)
    if rows_are_edges:
        array = array.T
    weight = torch.as_tensor(array[2], dtype=torch.float) if array.shape[0] == 3 else None
    ids = array[:2]
    if np.issubdtype(ids.dtype, np.floating) and not np.array_equal(ids, np.round(ids)):
        raise ValueError("The edge list holds non-integer node ids; node ids must be integers.")
    return torch.as_tensor(ids.astype(np.int64)), weight


def _read_table(path, what: str) -> np.ndarray:
    """The array in ``path``, read as its extension says; a file that is not (a pickled object
    array, a text file named ``.npy``, binary data named ``.csv``) is refused by name. Nothing
    is ever unpickled."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"The {what} file {path!r} does not exist.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"The {what} path {path!r} is a folder, not a file.")
    lower = path.lower()
    try:
        if lower.endswith(".npy"):
            return _numeric(np.load(path, allow_pickle=False), path, what)
        if lower.endswith(".npz"):
            return _read_npz(path, what)
        delimiter = "," if lower.endswith(".csv") else None
        with open(path) as handle:
            first = handle.readline()
        skip = 0 if _is_numeric_line(first, delimiter) else 1
        return np.loadtxt(path, delimiter=delimiter, skiprows=skip, ndmin=2)
    except UnicodeDecodeError:
        raise ValueError(f"The {what} file {path!r} is not a text file; save it as CSV/TSV "
                         "text, or as .npy/.npz.") from None
    except ValueError as err:
        if "pickle" in str(err) or "Object arrays" in str(err):
            raise ValueError(f"The {what} file {path!r} is not a NumPy array of numbers (it "
                             "holds pickled Python objects, or is not a NumPy file at all); "
                             "pyagc never unpickles files: save a numeric array with "
                             "np.save / np.savez.") from None
        if str(err).startswith(f"The {what} file"):
            raise
        raise ValueError(f"The {what} file {path!r} could not be read as numbers: {err}"
                         ) from None
    except (OSError, EOFError) as err:
        raise ValueError(f"The {what} file {path!r} cannot be read as its extension says "
                         f"({type(err).__name__}: {err}).") from None
    except MemoryError as err:  # a header declaring a huge shape (a few bytes can)
        raise ValueError(f"The {what} file {path!r} declares an array larger than this "
                         f"machine's memory ({err}); it is damaged or not what its extension "
                         "says.") from None


def _read_npz(path: str, what: str) -> Any:
    try:
        return sp.load_npz(path)
    except (ValueError, KeyError, OSError):
        pass
    with np.load(path, allow_pickle=False) as archive:
        if len(archive.files) != 1:
            raise ValueError(f"The {what} file {path!r} holds {len(archive.files)} arrays "
                             f"({archive.files}); save exactly one.")
        return _numeric(archive[archive.files[0]], path, what)


def _numeric(array: np.ndarray, path: str, what: str) -> np.ndarray:
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ValueError(f"The {what} file {path!r} holds an array of dtype {array.dtype}; "
                         "pyagc reads numbers only.")
    return array


def _is_numeric_line(line: str, delimiter: Optional[str]) -> bool:
    try:
        [float(tok) for tok in line.strip().split(delimiter) if tok.strip()]
        return True
    except ValueError:
        return False


def _read_matrix(source: PathOrArray, what: str) -> Any:
    """A file's array, or ``source`` itself (:func:`check_features` converts and checks)."""
    if isinstance(source, (str, os.PathLike)):
        return _read_table(source, what)
    return source


def _read_vector(source: PathOrArray) -> Any:
    """Labels from a file (a row or a column), or ``source`` itself (:func:`check_labels`
    converts and checks)."""
    if isinstance(source, (str, os.PathLike)):
        source = _read_table(source, "labels")
    if getattr(source, "ndim", None) == 2 and 1 in source.shape:
        return source.reshape(-1)
    return source
