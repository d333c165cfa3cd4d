"""Contextual stochastic block model: a seeded attributed graph with planted clusters."""
from __future__ import annotations

import numbers

import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, remove_self_loops

from pyagc.utils.validation import check_scalar


def make_csbm(num_nodes: int, n_clusters: int, avg_degree: float = 10.0,
              homophily: float = 0.8, num_features: int = 64, features: str = "gaussian",
              feature_signal: float = 1.0, seed: int = 0) -> Data:
    r"""Sample an attributed graph from a contextual stochastic block model.

    Nodes get balanced block labels ``y``. Edges are drawn as ``num_nodes * avg_degree / 2``
    undirected pairs: a uniform source, and a target drawn from the source's block with
    probability ``homophily``, otherwise uniformly from the whole graph (so the realised
    edge homophily is ``homophily + (1 - homophily) / n_clusters``). Self-loops and duplicate
    pairs are dropped, then both directions are stored, so ``edge_index.size(1)`` is about
    ``num_nodes * avg_degree`` (a little less through duplicates).

    Features depend on the block:

    * ``'gaussian'``: :math:`x_i = \mu_{y_i} + \varepsilon_i`, block means
      :math:`\mu_c \sim \mathcal{N}(0, s^2 I / d)\cdot\sqrt{d}` with :math:`s` =
      ``feature_signal`` and unit Gaussian noise.
    * ``'sparse'``: binary bag-of-words; each block owns ``num_features / n_clusters``
      words; each node draws 10 words, each from its block's words with probability
      ``feature_signal / (1 + feature_signal)`` and from the whole vocabulary otherwise.

    A 1M-node graph with ``avg_degree=10`` (10M directed edges) takes a few seconds.

    Raises:
        ScalarTypeError: an argument of the wrong type (``num_nodes=2.5``, ``seed='0'``).
        ValueError: an argument out of range (``homophily`` outside ``[0, 1]``, ``n_clusters``
            above ``num_nodes``, negative ``avg_degree``/``feature_signal``/``seed``, unknown
            ``features``).

    Returns:
        :class:`~torch_geometric.data.Data` with ``x [N, F]`` (float32), ``edge_index
        [2, E]`` (undirected, sorted, no self-loops) and ``y [N]`` (long).
    """
    _check_csbm_args(num_nodes, n_clusters, avg_degree, homophily, num_features, features,
                     feature_signal, seed)
    gen = torch.Generator().manual_seed(int(seed))
    y = torch.randperm(num_nodes, generator=gen) % n_clusters

    # Members of each block laid out contiguously, to draw same-block targets by offset.
    members = torch.argsort(y, stable=True)
    sizes = torch.bincount(y, minlength=n_clusters)
    starts = torch.cumsum(sizes, 0) - sizes

    num_pairs = int(round(num_nodes * avg_degree / 2))
    src = torch.randint(num_nodes, (num_pairs,), generator=gen)
    same = torch.rand(num_pairs, generator=gen) < homophily
    block = y[src[same]]
    offset = (torch.rand(block.numel(), generator=gen) * sizes[block]).long()
    dst = torch.randint(num_nodes, (num_pairs,), generator=gen)
    dst[same] = members[starts[block] + offset]

    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    edge_index, _ = remove_self_loops(edge_index)
    edge_index = coalesce(edge_index, num_nodes=num_nodes)

    x = _block_features(y, n_clusters, num_features, features, feature_signal, gen)
    return Data(x=x, edge_index=edge_index, y=y, num_nodes=num_nodes)


def _block_features(y, n_clusters, num_features, kind, signal, gen) -> torch.Tensor:
    num_nodes = y.numel()
    if kind == "gaussian":
        means = torch.randn(n_clusters, num_features, generator=gen) * signal
        x = torch.randn(num_nodes, num_features, generator=gen)
        x += means[y]
        return x
    words_per_node = 10
    block_vocab = max(num_features // n_clusters, 1)
    own = torch.rand(num_nodes, words_per_node, generator=gen) < signal / (1.0 + signal)
    own_word = (y.unsqueeze(1) * block_vocab
                + torch.randint(block_vocab, (num_nodes, words_per_node), generator=gen))
    any_word = torch.randint(num_features, (num_nodes, words_per_node), generator=gen)
    words = torch.where(own, own_word % num_features, any_word)
    x = torch.zeros(num_nodes, num_features)
    x.scatter_(1, words, 1.0)
    return x


def _check_csbm_args(num_nodes, n_clusters, avg_degree, homophily, num_features, features,
                     signal, seed) -> None:
    check_scalar(num_nodes, "num_nodes", numbers.Integral, min_val=1)
    check_scalar(n_clusters, "n_clusters", numbers.Integral, min_val=1, max_val=num_nodes)
    check_scalar(avg_degree, "avg_degree", numbers.Real, min_val=0)
    check_scalar(homophily, "homophily", numbers.Real, min_val=0, max_val=1)
    check_scalar(num_features, "num_features", numbers.Integral, min_val=1)
    if features not in ("gaussian", "sparse"):
        raise ValueError(f"features must be 'gaussian' or 'sparse', got {features!r}.")
    check_scalar(signal, "feature_signal", numbers.Real, min_val=0)
    check_scalar(seed, "seed", numbers.Integral, min_val=0)
