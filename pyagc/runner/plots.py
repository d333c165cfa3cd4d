"""Figures of a run (matplotlib, an optional dependency, imported only here)."""
from __future__ import annotations

import os
from typing import Any, Dict, List

import numpy as np
from torch import Tensor

#: Above this many nodes the 2-D projection is fitted on a seeded random subset.
MAX_PLOT_POINTS = 5000


def require_matplotlib():
    """Import matplotlib (optional dependency) with a clear error when it is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("--plot needs matplotlib, an optional dependency: "
                          "pip install 'pyagc[plot]'.") from None
    return plt


def project_2d(embedding: Tensor, method: str = "auto", seed: int = 0) -> tuple:
    """``(coords [n, 2], index [n])``: a 2-D projection of (a subset of) the embedding.

    ``'tsne'`` (scikit-learn t-SNE, on at most :data:`MAX_PLOT_POINTS` nodes), ``'pca'``, or
    ``'auto'``: t-SNE up to 2,000 nodes, PCA beyond (t-SNE is slow on large inputs).
    """
    from sklearn.decomposition import PCA
    z = embedding.detach().cpu().float().numpy() if isinstance(embedding, Tensor) else \
        np.asarray(embedding, dtype=np.float32)
    if z.ndim != 2:
        raise ValueError(f"The embedding must be [num_nodes, dim], got {list(z.shape)}.")
    rng = np.random.default_rng(seed)
    index = np.arange(z.shape[0])
    if z.shape[0] > MAX_PLOT_POINTS:
        index = np.sort(rng.choice(z.shape[0], MAX_PLOT_POINTS, replace=False))
        z = z[index]
    if z.shape[1] <= 2:
        coords = np.zeros((z.shape[0], 2), dtype=np.float32)
        coords[:, :z.shape[1]] = z
        return coords, index
    if method == "auto":
        method = "tsne" if z.shape[0] <= 2000 else "pca"
    if method == "tsne" and z.shape[0] > 5:
        from sklearn.manifold import TSNE
        if z.shape[1] > 50:  # t-SNE's usual PCA pre-reduction
            z = PCA(n_components=50, random_state=seed).fit_transform(z)
        perplexity = float(min(30.0, (z.shape[0] - 1) / 3.0))
        coords = TSNE(n_components=2, perplexity=perplexity, init="pca",
                      random_state=seed).fit_transform(z)
    else:
        coords = PCA(n_components=2, random_state=seed).fit_transform(z)
    return coords, index


def plot_embedding(embedding: Tensor, labels: Tensor, path: str, title: str = "",
                   method: str = "auto", seed: int = 0) -> str:
    plt = require_matplotlib()
    coords, index = project_2d(embedding, method, seed)
    labels = np.asarray(labels.cpu().numpy() if hasattr(labels, "cpu") else labels)[index]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(coords[:, 0], coords[:, 1], c=labels, s=4, cmap="tab20", linewidths=0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_loss_curve(history: List[Dict[str, Any]], path: str) -> str:
    plt = require_matplotlib()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    stages = list(dict.fromkeys(row["stage"] for row in history))
    step = 0
    for stage in stages:
        losses = [row["loss"] for row in history if row["stage"] == stage]
        ax.plot(range(step + 1, step + len(losses) + 1), losses, label=stage)
        step += len(losses)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if len(stages) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
