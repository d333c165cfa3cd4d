"""Benchmark datasets by name, read through PyG's dataset classes (offline when files exist)."""
from __future__ import annotations

import os
import os.path as osp
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, Tuple

from torch_geometric.data import Data
from torch_geometric.transforms import NormalizeFeatures
from torch_geometric.utils import to_undirected

# name (lower case) -> (display name, loader(root) -> PyG dataset, folder under root)
_REGISTRY: Dict[str, Tuple[str, Callable, str]] = {}


def _register(display: str, folder: str):
    def wrap(fn):
        _REGISTRY[display.lower()] = (display, fn, folder)
        return fn
    return wrap


def _planetoid(name):
    def load(root):
        from torch_geometric.datasets import Planetoid
        return Planetoid(root, name)
    return load


def _pyg(cls_name, *args):
    def load(root):
        import torch_geometric.datasets as datasets
        return getattr(datasets, cls_name)(root, *args)
    return load


def _ogb(name):
    def load(root):
        try:
            from ogb.nodeproppred import PygNodePropPredDataset
        except ImportError as err:
            raise ImportError(f"Dataset {name} needs the optional package 'ogb': "
                              "pip install 'pyagc[ogb]'.") from err
        return PygNodePropPredDataset(name, root)
    return load


for _name in ("Cora", "CiteSeer", "PubMed"):
    _register(_name, _name)(_planetoid(_name))
for _name in ("Photo", "Computers"):
    _register(_name, _name.capitalize())(_pyg("Amazon", _name))
for _name in ("CS", "Physics"):
    _register(_name, _name)(_pyg("Coauthor", _name))
_register("WikiCS", "WikiCS")(lambda root: _pyg("WikiCS")(osp.join(root, "WikiCS")))
_register("Flickr", "Flickr")(lambda root: _pyg("Flickr")(osp.join(root, "Flickr")))
_register("Reddit", "Reddit")(lambda root: _pyg("Reddit")(osp.join(root, "Reddit")))
for _name in ("ogbn-arxiv", "ogbn-products", "ogbn-mag"):
    _register(_name, _name.replace("-", "_"))(_ogb(_name))


@contextmanager
def dataset_lock(folder: str) -> Iterator[None]:
    """Hold an exclusive lock on ``<folder>/.pyagc.lock`` (POSIX ``flock``) while a dataset is
    downloaded or processed, so that processes loading the same dataset at once (the ranks of
    a ``torchrun`` job, parallel benchmark runs) do not write ``processed/`` over each other.
    Without ``fcntl`` (Windows) or where the lock file cannot be created (a read-only root
    with ``processed/`` already there) it does not lock."""
    try:
        import fcntl
        os.makedirs(folder, exist_ok=True)
        handle = open(osp.join(folder, ".pyagc.lock"), "a")
    except (ImportError, OSError):
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def available_datasets() -> list:
    """Display names of the datasets :func:`get_dataset` knows."""
    return [display for display, _, _ in _REGISTRY.values()]


def get_dataset(name: str, root: str, return_splits: bool = False,
                normalize_features: bool = True):
    """Load a benchmark graph as ``(x, edge_index, y)``.

    Names are case-insensitive: Cora, CiteSeer, PubMed, Photo, Computers, CS, Physics, WikiCS,
    Flickr, Reddit, ogbn-arxiv, ogbn-products, ogbn-mag (the ogbn ones need ``pyagc[ogb]``).
    Files are read from ``<root>/<Name>/raw`` (PyG's layout; e.g. ``root/Cora/raw/ind.cora.x``)
    and downloaded there only when missing. PyG writes a ``processed/`` folder beside ``raw/``,
    so ``root`` must be writable.

    Processing: with ``normalize_features=True`` (default) features go through PyG's
    ``NormalizeFeatures`` (shift by the global minimum, then divide each row by its sum when
    that sum exceeds one, as the published benchmarks do); with ``False`` they are returned as
    stored, cast to float (e.g. Cora's and CiteSeer's binary bag-of-words, on which the
    propagation methods such as SSGC and SGC cluster better). Edges are made undirected;
    ``y`` is a 1-D long tensor.
    ogbn-mag uses its paper nodes and paper-cites-paper edges.

    With ``return_splits=True`` a fourth element holds the dataset's masks or split indices
    (a dict, empty when the dataset has none).
    """
    if not isinstance(normalize_features, bool):
        raise TypeError(f"normalize_features must be True or False, got "
                        f"{normalize_features!r}.")
    if not isinstance(name, str) or name.lower() not in _REGISTRY:
        raise ValueError(f"Unknown dataset {name!r}. Available: {', '.join(available_datasets())}.")
    display, load, folder = _REGISTRY[name.lower()]
    where = osp.abspath(osp.join(root, folder))
    try:
        with dataset_lock(where):
            dataset = load(root)
    except ImportError:
        raise
    except Exception as err:  # download failures surface as many different exception types
        if osp.isdir(osp.join(where, "processed")):
            raise OSError(
                f"Could not load dataset {display} from {where} ({type(err).__name__}: {err}). "
                f"Its processed/ folder may be damaged (e.g. written by an interrupted run): "
                f"delete {osp.join(where, 'processed')} and load again; the files in raw/ are "
                "kept.") from err
        raise FileNotFoundError(
            f"Could not load dataset {display}: its files are not under {where} and downloading "
            f"them failed ({type(err).__name__}: {err}). Put the raw files in {osp.join(where, 'raw')} "
            "or run once with network access.") from err
    data = dataset[0]
    splits = {}
    if display == "ogbn-mag":
        x, edge_index, y = data.x_dict["paper"], data.edge_index_dict[("paper", "cites", "paper")], \
            data.y_dict["paper"]
    else:
        x, edge_index, y = data.x, data.edge_index, data.y
    if return_splits:
        for key in ("train_mask", "val_mask", "test_mask"):
            if getattr(data, key, None) is not None:
                splits[key] = getattr(data, key)
        if hasattr(dataset, "get_idx_split"):
            splits.update(dataset.get_idx_split())
    x = x.float()
    if normalize_features:
        x = NormalizeFeatures()(Data(x=x)).x
    edge_index = to_undirected(edge_index, num_nodes=x.size(0))
    y = y.view(-1).long()
    return (x, edge_index, y, splits) if return_splits else (x, edge_index, y)

