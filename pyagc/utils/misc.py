"""Small utilities shared across pyagc."""
from __future__ import annotations

import copy
import inspect
import logging
import random
from typing import Callable, Optional

import numpy as np
import torch
from torch import Tensor


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so a run is reproducible on CPU."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def deep_update_dict(base: dict, overrides: dict) -> dict:
    """A copy of ``base`` with ``overrides`` merged in recursively (nested dicts merge)."""
    out = copy.deepcopy(base)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_update_dict(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def filter_kwargs(func: Callable, kwargs: dict) -> dict:
    """The entries of ``kwargs`` that ``func`` accepts by name (all of them if it takes **kwargs)."""
    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(kwargs)
    return {k: v for k, v in kwargs.items() if k in params}


def off_diagonal(x: Tensor) -> Tensor:
    """The off-diagonal entries of a square matrix ``[n, n]`` as a flat vector ``[n*(n-1)]``."""
    n, m = x.shape
    if n != m:
        raise ValueError(f"off_diagonal expects a square matrix, got {list(x.shape)}.")
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def pairwise_squared_distance(x: Tensor, y: Tensor) -> Tensor:
    """Squared Euclidean distances ``[n, m]`` between rows of ``x [n, d]`` and ``y [m, d]``."""
    d = (x * x).sum(1, keepdim=True) - 2.0 * x @ y.t() + (y * y).sum(1).unsqueeze(0)
    return d.clamp_(min=0)


def get_logger(filename: Optional[str], log_level: int = 1, name: Optional[str] = None,
               mode: str = "a") -> logging.Logger:
    """A logger writing to ``filename`` (and nowhere else); level 0 = WARNING, 1 = INFO, 2 = DEBUG."""
    level = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}.get(log_level, logging.INFO)
    logger = logging.getLogger(name or "pyagc")
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    if filename:
        handler = logging.FileHandler(filename, mode=mode)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return logger
