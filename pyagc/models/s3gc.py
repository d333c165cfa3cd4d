"""S3GC: a light graph encoder trained contrastively on random-walk positives."""
from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Embedding, Linear, Module
from torch.optim import Optimizer
from torch.utils.checkpoint import checkpoint
from torch.utils.data import DataLoader
from torch_geometric.data import Data
from torch_geometric.nn import MLP
from torch_geometric.utils import add_remaining_self_loops

from pyagc.models.base import LossOutput, TrainableModel
from pyagc.ops import bf16_matmul_is_fast, normalized_adjacency, polynomial_filter
from pyagc.ops.sparse import csr_pattern, pattern_sddmm
from pyagc.sampling import check_walk_settings, random_walk, walk_graph, walk_windows
from pyagc.utils.validation import check_edge_index, check_features, check_scalar

#: Node-count boundaries of ``scale='auto'``: small below 50K, medium below 3M, large above.
SCALE_LIMITS = (50_000, 3_000_000)
_SCALES = ("small", "medium", "large", "auto")
_METHODS = ("ppr", "heat", "custom")


def diffusion_coefficients(method: str = "ppr", k_hop: int = 2, alpha: float = 0.2,
                           t: float = 5.0) -> List[float]:
    r"""Weights :math:`\theta_0, \dots, \theta_K` of :math:`S_K = \sum_l \theta_l \tilde{A}^l`.

    * ``'ppr'``: ``k_hop`` power iterations :math:`Z \leftarrow (1-\alpha)\tilde{A}Z +
      \alpha X` from :math:`Z = X`, i.e. :math:`\theta_l = \alpha(1-\alpha)^l` for
      :math:`l < K` and :math:`\theta_K = (1-\alpha)^K` (the truncated personalised PageRank;
      the weights sum to 1).
    * ``'heat'``: :math:`\theta_l = e^{-t} t^l / l!` (heat kernel :math:`e^{-t(I-\tilde{A})}`),
      truncated at :math:`K` and renormalised to sum to 1, so a short truncation keeps the
      scale of :math:`X` instead of shrinking it by the missing tail.
    """
    check_scalar(k_hop, "k_hop", int, min_val=0)
    if method == "ppr":
        check_scalar(alpha, "alpha", (int, float), min_val=0, max_val=1,
                     include_boundaries="right")
        alpha = float(alpha)
        return [alpha * (1 - alpha) ** l for l in range(k_hop)] + [(1 - alpha) ** k_hop]
    if method == "heat":
        check_scalar(t, "t", (int, float), min_val=0, include_boundaries="neither")
        weights = [math.exp(-t) * t ** l / math.factorial(l) for l in range(k_hop + 1)]
        total = sum(weights)
        return [w / total for w in weights]
    raise ValueError(f"method must be one of {', '.join(_METHODS)}; got {method!r}.")


def precompute_features(x: Tensor, edge_index: Tensor, num_nodes: int,
                        method: str = "ppr", k_hop: int = 2,
                        coefs: Optional[Union[Tensor, Sequence[float]]] = None,
                        add_self_loops: bool = True, verbose: bool = False,
                        **kwargs: Any) -> Tuple[Tensor, Tensor]:
    r"""The two fixed inputs of the S3GC encoder: :math:`(\tilde{A}X,\ S_K X)`.

    :math:`\tilde{A} = \hat{D}^{-1/2}(A + I)\hat{D}^{-1/2}` is the GCN-normalised adjacency
    (self-loops with ``add_self_loops``) and :math:`S_K = \sum_{l=0}^{K} \theta_l \tilde{A}^l`
    a diffusion truncated at ``K = k_hop`` (:func:`diffusion_coefficients`): personalised
    PageRank (``'ppr'``, teleport ``alpha``, default 0.2), heat kernel (``'heat'``, time ``t``,
    default 5.0) or ``'custom'`` weights ``coefs = [theta_0, ..., theta_K]`` (also accepted as
    a sequence ``alpha=``). Both are computed by ``K`` sparse products with a CSR
    :math:`\tilde{A}` (:func:`pyagc.ops.polynomial_filter`): :math:`O(K(N + E)F)` time, a few
    ``[N, F]`` buffers of memory, never an ``N x N`` matrix.

    Args:
        x: ``[N, F]`` node features.
        edge_index: ``[2, E]`` edges.
        num_nodes: ``N``.
        method: ``'ppr'``, ``'heat'`` or ``'custom'``.
        k_hop: diffusion steps ``K`` (>= 0).
        coefs: the ``K + 1`` weights of ``'custom'``.
        add_self_loops: add self-loops before normalising.
        verbose: print the sizes and the elapsed time.
        **kwargs: ``alpha`` (PPR teleport probability) and ``t`` (heat time).

    Returns:
        ``(AX, SX)``, both ``[N, F]`` float32.
    """
    import time
    start = time.perf_counter()
    num_nodes = check_scalar(num_nodes, "num_nodes", int, min_val=1)
    x = check_features(x, num_nodes)
    edge_index = check_edge_index(edge_index, num_nodes)
    unknown = sorted(set(kwargs) - {"alpha", "t"})
    if unknown:
        raise TypeError(f"precompute_features got an unknown argument {unknown[0]!r}; the "
                        "diffusion takes alpha (ppr) and t (heat).")
    check_scalar(k_hop, "k_hop", int, min_val=0)
    alpha = kwargs.get("alpha", 0.2)
    if method == "custom":
        if coefs is None and not isinstance(alpha, (int, float)):
            coefs = alpha  # the reference example passes the weights as alpha=
        if coefs is None:
            raise ValueError("method='custom' needs coefs=[theta_0, ..., theta_K] (k_hop + 1 "
                             "weights).")
        weights = [float(c) for c in torch.as_tensor(coefs, dtype=torch.float64).view(-1)]
        if len(weights) != k_hop + 1 or not all(math.isfinite(w) for w in weights):
            raise ValueError(f"coefs must hold k_hop + 1 = {k_hop + 1} finite weights, got "
                             f"{len(weights)}.")
    else:
        weights = diffusion_coefficients(method, k_hop, alpha, kwargs.get("t", 5.0))
    adj = normalized_adjacency(edge_index, num_nodes, add_self_loops=add_self_loops)
    x = x.to(torch.float32)
    ax = polynomial_filter(adj, x, [0.0, 1.0])
    sx = polynomial_filter(adj, x, weights)
    if verbose:
        print(f"precompute_features: {method} diffusion, K={k_hop}, {num_nodes} nodes, "
              f"{edge_index.size(1)} edges, {x.size(1)} features: "
              f"{time.perf_counter() - start:.2f} s")
    return ax, sx


def resolve_scale(scale: str, num_nodes: int) -> str:
    """``scale``, or for ``'auto'`` the scale of a graph of ``num_nodes`` nodes
    (:data:`SCALE_LIMITS`)."""
    if scale not in _SCALES:
        raise ValueError(f"scale must be one of {', '.join(_SCALES)}; got {scale!r}.")
    if scale != "auto":
        return scale
    return "small" if num_nodes < SCALE_LIMITS[0] else (
        "medium" if num_nodes < SCALE_LIMITS[1] else "large")


class S3GC(TrainableModel):
    r"""S3GC: contrastive clustering with random-walk positives (Devvrit et al., NeurIPS 2022).

    S3GC, from `"S3GC: Scalable Self-Supervised Graph Clustering"
    <https://openreview.net/forum?id=ldl2V3vLZ5>`_ (Devvrit, Sinha, Dhillon & Jain, NeurIPS
    2022).

    **Encoder.** Each node gets

    .. math::
        \mathbf{z}_i = \operatorname{normalize}\big(f(\tilde{A}X)_i + g(S_K X)_i +
        \mathbf{I}_i\big),

    from the fixed inputs of :func:`precompute_features` (one-hop smoothed features and a
    diffusion, computed once), two learned maps :math:`f, g` and a learnable node-embedding
    table :math:`\mathbf{I}` ``[N, H]``, initialised :math:`\mathcal{N}(0, 1)` entry-wise as
    in the public S3GC code (``embedding_std``; 0 drops the table). The table matters: it starts
    far larger than the feature part (norm :math:`\approx\sqrt{H}`), so the features take
    over only as :math:`f, g` grow, and it keeps the embedding from over-fitting the walks.
    Measured on Cora with the reference example (lr 0.01, 200 epochs, seed 0, NMI every 20
    epochs): without the table NMI peaks at 57 (epoch 80) and falls to 53 at epoch 200; with it
    NMI climbs to 55-56 by epoch 80 and stays there (56.1 at epoch 200). The reference
    example, 5 seeds, with the published Cora settings (``benchmarks/bench_documented.py``,
    seeds 0-4): NMI 55.32 +- 1.16, ACC 70.97 +- 0.67 (published 55.45 / 70.33; 55.15 before
    the walks' self-loops below, 51.17 before the table and this loss). It takes ~32 CPU s
    for the 200 epochs on one thread (``benchmarks/bench_walk_models_time.py``; published
    124.7 s on a V100).
    Seeds 5-9 of the same call: NMI 55.65 +- 0.86; seeds 0-9: 55.49 +- 0.98, the published
    mean: the gap on seeds 0-4 is seed noise (per-seed std ~1). Alternatives measured on
    seeds 5-7 (55.88 as shipped) and not taken: :math:`-\log` of the share 55.79; the
    positives pooled per anchor node (one softmax over all its windows) with :math:`-\log`
    55.90; ``tau=0.5`` 54.53; table std 0.25 / 0.5 / 2: 51.06 / 53.43 / 54.42; walks of 2
    steps (one window per walk) 55.15.
    :math:`f, g` are linear maps at ``scale='small'`` and 2-layer ReLU MLPs at
    ``'medium'`` / ``'large'``; ``'auto'`` picks small below 50K nodes, medium below 3M,
    large above (:data:`SCALE_LIMITS`). ``'large'`` (or ``keep_embeddings_on_cpu``) keeps the
    table on CPU and moves only the rows of a batch to the compute device.

    **Samples.** For every node of a batch, ``walks_per_node`` random walks of
    ``walk_length`` steps (node2vec's second-order walk with return ``p`` and in-out ``q``,
    :func:`pyagc.sampling.random_walk`); each window of ``context_size`` consecutive walk
    nodes :math:`(a, v_1, \dots, v_{c-1})` is a positive set :math:`\mathcal{P}` for its
    anchor :math:`a`. Each positive window gets ``num_negative_samples`` negative windows
    :math:`(a, n_1, \dots, n_{c-1})` of uniformly drawn nodes, pooled into
    :math:`\mathcal{N}`.
    The walks run on :math:`A + I` (``walk_self_loops``, the default): a uniform step stays
    put with probability :math:`1/(d_i + 1)`, i.e. the walk's transition matrix is
    :math:`\hat{D}^{-1}(A + I)`, the random-walk form of the same self-looped graph whose
    normalisation :math:`\tilde{A}` the encoder uses (the public S3GC code walks on this
    graph as well). A window then often repeats its anchor, whose similarity is 1: the
    positive mass gets a floor, and the loss pulls less hard on the walked neighbours.
    Measured with the reference example on Cora (published settings, 200 epochs, seeds 5-9,
    kept apart from the seeds 0-4 of the figure above): NMI 55.65 with the self-loops, 54.73
    without, higher on each of the five seeds.

    **Loss** (SimCLR-style, cosine similarities :math:`s`, temperature :math:`\tau`, default
    1 i.e. the plain inner product of the unit embeddings): per positive window, the share of
    the positives in the softmax mass of the window,

    .. math::
        \ell(a, \mathcal{P}, \mathcal{N}) = -\frac{\sum_{v \in \mathcal{P}} e^{s(a, v)/\tau}}
        {\sum_{v \in \mathcal{P}} e^{s(a, v)/\tau} + \sum_{n \in \mathcal{N}}
        e^{s(a, n)/\tau}},

    averaged over the windows. This is the form of the public S3GC code (the probability,
    not its logarithm: it saturates once a window's positives dominate, where
    :math:`-\log` keeps pushing). Measured with the table (Cora, seed 0, 200 epochs): NMI
    56.1 with this form, 55.5 with :math:`-\log`. A batch costs the encoder rows of the
    distinct nodes in its windows and :math:`O(|\mathcal{P}|\,c\,H)` for the loss (the
    anchor-context scores of all windows are one sampled dense-dense product on a sparse
    pattern, no gathered ``[windows, c, H]`` tensor): nothing in it grows with :math:`N`.

    Works on a plain install: the walks are pyagc's PyTorch walks (no pyg-lib /
    torch-cluster).

    Args:
        edge_index: ``[2, E]`` edges (walks follow out-edges).
        num_nodes: number of nodes ``N``.
        in_channels: feature size ``F`` of the precomputed inputs.
        hidden_channels: embedding size ``H``.
        walk_length: steps per walk (a walk holds ``walk_length + 1`` nodes).
        context_size: window length ``c``, in ``[2, walk_length + 1]``.
        walks_per_node: walks started at each batch node.
        num_negative_samples: negative windows per positive window.
        p, q: node2vec return and in-out parameters.
        scale: ``'small'``, ``'medium'``, ``'large'`` or ``'auto'`` (see above).
        keep_embeddings_on_cpu: keep the table :math:`\mathbf{I}` on CPU.
        tau: temperature :math:`\tau` (keyword-only).
        embedding_std: standard deviation of the table's initialisation (keyword-only; 0: no
            table, no ``[N, H]`` parameter).
        walk_self_loops: walk on the graph with a self-loop at every node (keyword-only;
            default ``True``, see **Samples**).
        seed: seed of the walks, the negatives and the loader's shuffling (keyword-only;
            ``None``: torch's global RNG).
        bf16: run :math:`f, g` in bfloat16 while training (keyword-only; the table, the
            sum and the loss stay float32; ``embed`` is always float32). ``None`` (default):
            only for batches of at least :attr:`bf16_min_rows` distinct nodes (Products-sized
            batches, never Cora's) on CPUs with native bfloat16 products
            (:func:`pyagc.ops.bf16_matmul_is_fast`). Measured on an AVX-512 BF16 CPU, one
            thread (``benchmarks/bench_s3gc_bf16.py``): the Products configuration on a
            200,000-node Products-like graph 7.9 against 10.8 CPU s per batch (1.37x; the
            walks, the loss and the table's Adam step stay float32), gradient within 3.4e-3
            of float32's norm, the same NMI after each of 3 epochs (4.34 / 2.71 / 2.23
            against 4.40 / 2.61 / 2.23); the documented Cora call forced to ``bf16=True``,
            seeds 0-4: NMI 55.45 +- 0.97 against 55.32 +- 1.16, at 26.0 against 39.4 CPU s
            per run (Cora keeps float32 by default, so its figures above stay exact).

    Shapes:
        ``loss(pos_rw [P, c], neg_rw [k P, c], node_mapping [U])``; ``embed() -> [N, H]``.

    Example::

        >>> AX, SX = precompute_features(x, edge_index, x.size(0), method='ppr')
        >>> model = S3GC(edge_index, x.size(0), x.size(1), 256, walk_length=3, context_size=3)
        >>> model.set_precomputed_features(AX, SX)
        >>> loader = model.loader(batch_size=2708, shuffle=True)
        >>> optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        >>> for epoch in range(1, 201):
        ...     loss = model.train_epoch(loader, optimizer, epoch)
    """

    family = "deep-decoupled"
    supports_mini_batch = True

    #: Default of :attr:`checkpoint_rows`.
    CHECKPOINT_ROWS = 1 << 17

    #: Default of :attr:`bf16_min_rows`: batches this large exist only on big graphs, so
    #: Cora-sized runs keep exact float32 arithmetic.
    BF16_MIN_ROWS = 1 << 17

    #: Keys of the ``model`` config section that set the diffusion of :meth:`prepare`.
    DIFFUSION_KEYS = {"diffusion_method": "method", "k_hop": "k_hop", "alpha": "alpha",
                      "heat_t": "t"}

    @classmethod
    def from_config(cls, cfg, data, n_clusters, *, seed=None) -> "S3GC":
        """As :meth:`BaseModel.from_config`, walking the edges of ``data``; the keys
        ``diffusion_method``, ``k_hop``, ``alpha`` and ``heat_t`` set the diffusion that
        :meth:`prepare` computes (:func:`precompute_features`)."""
        cfg = dict(cfg)
        diffusion = {arg: cfg.pop(key) for key, arg in cls.DIFFUSION_KEYS.items() if key in cfg}
        if getattr(data, "x", None) is None:
            raise ValueError("S3GC needs node features, but the graph has none.")
        model = super().from_config(dict(cfg, edge_index=data.edge_index,
                                         num_nodes=data.num_nodes,
                                         in_channels=int(data.num_features)),
                                    data, n_clusters, seed=seed)
        model.diffusion = dict(model.diffusion, **diffusion)
        if model.diffusion["method"] != "custom":  # a bad value fails here, not after training
            diffusion_coefficients(**model.diffusion)
        return model

    def __init__(self, edge_index: Tensor, num_nodes: int, in_channels: int,
                 hidden_channels: int, walk_length: int, context_size: int,
                 walks_per_node: int = 1, num_negative_samples: int = 1, p: float = 1.0,
                 q: float = 1.0, scale: str = "auto", keep_embeddings_on_cpu: bool = False, *,
                 tau: float = 1.0, embedding_std: float = 1.0, walk_self_loops: bool = True,
                 seed: Optional[int] = None, bf16: Optional[bool] = None) -> None:
        super().__init__()
        self.num_nodes = check_scalar(num_nodes, "num_nodes", int, min_val=1)
        edge_index = check_edge_index(edge_index, self.num_nodes).cpu()
        self.in_channels = check_scalar(in_channels, "in_channels", int, min_val=1)
        self.hidden_channels = check_scalar(hidden_channels, "hidden_channels", int, min_val=1)
        (self.walk_length, self.context_size, self.walks_per_node, self.num_negative_samples,
         self.p, self.q) = check_walk_settings(walk_length, context_size, walks_per_node,
                                               num_negative_samples, p, q)
        self.tau = float(check_scalar(tau, "tau", (int, float), min_val=0,
                                      include_boundaries="neither"))
        check_scalar(embedding_std, "embedding_std", (int, float), min_val=0)
        self.embedding_std = float(embedding_std)
        self.scale = resolve_scale(scale, self.num_nodes)
        check_scalar(keep_embeddings_on_cpu, "keep_embeddings_on_cpu", bool)
        self.keep_embeddings_on_cpu = keep_embeddings_on_cpu or self.scale == "large"
        self.compute_device = torch.device("cpu")
        check_scalar(walk_self_loops, "walk_self_loops", bool)
        self.walk_self_loops = walk_self_loops
        if walk_self_loops:  # the walks' graph is A + I, the graph of the encoder's A~
            edge_index = add_remaining_self_loops(edge_index, num_nodes=self.num_nodes)[0]
        self.graph = walk_graph(edge_index, self.num_nodes)
        self.generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        #: Diffusion computed by :meth:`prepare` (set from the config by :meth:`from_config`).
        self.diffusion: Dict[str, Any] = {"method": "ppr", "k_hop": 2, "alpha": 0.2, "t": 5.0}
        #: Distinct nodes per batch above which :meth:`loss` encodes in recomputed blocks
        #: (:meth:`_encode_unit`).
        self.checkpoint_rows = self.CHECKPOINT_ROWS
        if bf16 is not None:
            check_scalar(bf16, "bf16", bool)
        self.bf16 = bf16
        #: Distinct nodes per training batch from which ``bf16=None`` takes bfloat16 maps.
        self.bf16_min_rows = self.BF16_MIN_ROWS
        self.AX: Optional[Tensor] = None
        self.SX: Optional[Tensor] = None
        self._features_of: Optional[Tuple[int, int]] = None

        def feature_map() -> Module:
            if self.scale == "small":
                return Linear(in_channels, hidden_channels)
            return MLP([in_channels, hidden_channels, hidden_channels], act="relu", norm=None)

        self.f = feature_map()
        self.g = feature_map()
        self.node_embedding = (Embedding(self.num_nodes, hidden_channels)
                               if self.embedding_std > 0 else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.f.reset_parameters()
        self.g.reset_parameters()
        if self.node_embedding is not None:
            torch.nn.init.normal_(self.node_embedding.weight, 0.0, self.embedding_std)

    def to(self, *args: Any, **kwargs: Any) -> "S3GC":
        """Move the model; with ``keep_embeddings_on_cpu`` the table stays on CPU, and
        features set with ``keep_on_cpu`` stay there too."""
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        if device is not None:
            self.compute_device = torch.device(device)
        if not self.keep_embeddings_on_cpu:
            return super().to(*args, **kwargs)
        self.f.to(*args, **kwargs)
        self.g.to(*args, **kwargs)
        return self

    # ------------------------------------------------------------------------- inputs
    def set_precomputed_features(self, AX: Tensor, SX: Tensor,  # noqa: N803 (paper's names)
                                 keep_on_cpu: bool = False) -> None:
        r"""Set the fixed inputs :math:`\tilde{A}X` and :math:`S_K X` (``[N, F]`` each, from
        :func:`precompute_features`); with ``keep_on_cpu`` they stay on CPU and only the rows
        of a batch move to the compute device."""
        check_scalar(keep_on_cpu, "keep_on_cpu", bool)
        tensors = []
        for name, value in (("AX", AX), ("SX", SX)):
            value = check_features(value, self.num_nodes, name)
            if value.size(1) != self.in_channels:
                raise ValueError(f"{name} has {value.size(1)} columns but the model was built "
                                 f"with in_channels={self.in_channels}.")
            tensors.append(value.to(torch.float32))
        device = torch.device("cpu") if keep_on_cpu else self.compute_device
        self.AX, self.SX = (t.to(device) for t in tensors)

    def prepare(self, data: Data) -> None:
        """Compute :meth:`set_precomputed_features` for ``data`` with the diffusion of
        :attr:`diffusion` (once per graph)."""
        key = (id(data.x), data.x._version)
        if self.AX is not None and self._features_of == key:
            return
        settings = dict(self.diffusion)
        method = settings.pop("method")
        extra = {"alpha": settings.pop("alpha"), "t": settings.pop("t")}
        if method == "custom":
            extra = {"alpha": extra["alpha"]}
        ax, sx = precompute_features(data.x, data.edge_index, self.num_nodes, method=method,
                                     k_hop=settings.pop("k_hop"), **extra)
        self.set_precomputed_features(ax, sx, keep_on_cpu=self.keep_embeddings_on_cpu)
        self._features_of = key

    # ----------------------------------------------------------------------- sampling
    def loader(self, **kwargs: Any) -> DataLoader:
        """A DataLoader over the node ids whose batches are ``(pos_rw, neg_rw,
        node_mapping)`` (:meth:`collate`); keyword arguments go to the DataLoader (a seeded
        model shuffles with its own generator unless ``generator=`` is given)."""
        if kwargs.get("shuffle") and "generator" not in kwargs and self.generator is not None:
            kwargs["generator"] = self.generator
        return DataLoader(range(self.num_nodes), collate_fn=self.collate, **kwargs)

    def pos_sample(self, batch: Tensor) -> Tensor:
        """Windows ``[len(batch) * walks_per_node * (walk_length + 2 - context_size),
        context_size]`` of biased random walks started ``walks_per_node`` times at each node
        of ``batch`` (global ids)."""
        start = batch.repeat(self.walks_per_node)
        walks = random_walk(self.graph, start, self.walk_length, self.p, self.q,
                            generator=self.generator)
        return walk_windows(walks, self.context_size)

    def neg_sample(self, batch: Tensor) -> Tensor:
        """Negative windows ``[num_negative_samples * len(batch), context_size]`` for the
        anchors ``batch`` (global ids; :meth:`sample` passes the first column of the positive
        windows): row ``m * len(batch) + r`` is anchor ``batch[r]`` followed by
        ``context_size - 1`` uniformly drawn nodes."""
        start = batch.repeat(self.num_negative_samples)
        noise = torch.randint(self.num_nodes, (start.numel(), self.context_size - 1),
                              generator=self.generator)
        return torch.cat([start.unsqueeze(1), noise], dim=1)

    def sample(self, batch: Union[List[int], Tensor]) -> Tuple[Tensor, Tensor]:
        """``(pos_rw, neg_rw)`` for a batch of start nodes, in global ids: the positive
        windows of :meth:`pos_sample` and, for each, ``num_negative_samples`` negative windows
        with the same anchor (:meth:`neg_sample` of the windows' first column)."""
        if not isinstance(batch, Tensor):
            batch = torch.tensor(batch, dtype=torch.long)
        batch = batch.long().cpu().view(-1)
        if batch.numel() and (int(batch.min()) < 0 or int(batch.max()) >= self.num_nodes):
            raise ValueError(f"batch node ids must lie in [0, {self.num_nodes}).")
        pos = self.pos_sample(batch)
        return pos, self.neg_sample(pos[:, 0])

    def collate(self, batch: Union[List[int], Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        """:meth:`sample` relabelled to the batch: ``(pos_rw, neg_rw, node_mapping)`` with
        ``node_mapping[k]`` the global id of batch-local node ``k`` (sorted, distinct) and the
        walks in local ids, so each node is encoded once per batch."""
        pos, neg = self.sample(batch)
        node_mapping, inverse = torch.unique(torch.cat([pos.view(-1), neg.view(-1)]),
                                             return_inverse=True)
        return (inverse[:pos.numel()].view_as(pos), inverse[pos.numel():].view_as(neg),
                node_mapping)

    # ----------------------------------------------------------------------- encoder
    def _rows(self, table: Tensor, index: Tensor) -> Tensor:
        return table[index.to(table.device)].to(self.compute_device)

    def _encode(self, index: Tensor, table_rows: Optional[Tensor] = None,
                bf16: bool = False) -> Tensor:
        r""":math:`f(\tilde{A}X) + g(S_KX) + I` for the nodes ``index`` (with gradients);
        ``table_rows``: the rows of :math:`I` already gathered; ``bf16``: :math:`f, g` in
        bfloat16 (see :meth:`uses_bf16`), the sum in float32."""
        if self.AX is None or self.SX is None:
            raise RuntimeError("S3GC has no input features yet: call "
                               "model.set_precomputed_features(*precompute_features(x, "
                               "edge_index, num_nodes)) first.")
        with torch.autocast(self.compute_device.type, dtype=torch.bfloat16, enabled=bf16):
            out = self.f(self._rows(self.AX, index)) + self.g(self._rows(self.SX, index))
        if bf16:
            out = out.float()
        if self.node_embedding is None:
            return out
        if table_rows is None:
            weight = self.node_embedding.weight
            table_rows = F.embedding(index.to(weight.device), weight).to(out.device)
        return out + table_rows

    def _unit_block(self, index: Tensor, table_rows: Optional[Tensor],
                    bf16: bool = False) -> Tensor:
        return F.normalize(self._encode(index, table_rows, bf16), dim=-1)

    def uses_bf16(self, num_rows: int) -> bool:
        """Whether a training batch of ``num_rows`` distinct nodes runs :math:`f, g` in
        bfloat16: the ``bf16`` argument, or for ``None`` batches of at least
        :attr:`bf16_min_rows` rows on a device where bfloat16 products are fast
        (:func:`pyagc.ops.bf16_matmul_is_fast`)."""
        if self.bf16 is not None:
            return self.bf16
        return num_rows >= self.bf16_min_rows and bf16_matmul_is_fast(self.compute_device)

    def _encode_unit(self, index: Tensor) -> Tensor:
        r"""The unit embeddings of the nodes ``index`` with gradients, what :meth:`loss`
        compares.

        A batch whose windows touch more than :attr:`checkpoint_rows` distinct nodes encodes
        them in blocks of that many rows under :func:`torch.utils.checkpoint.checkpoint`:
        the blocks' activations (~9 KB a row for the two 2-layer maps at ``H = 256``) are
        recomputed one block at a time in the backward pass instead of being held for all
        rows at once (about a million distinct nodes per 16,384-seed batch at Products size:
        ~9 GB). The maps have no dropout, so the recomputation is exact; the gradients differ
        from the one-block pass only in the order of float sums. Smaller batches (Cora:
        ~2,700 rows) run in one block, unchanged.
        """
        training = torch.is_grad_enabled()
        bf16 = training and self.uses_bf16(index.numel())
        if not training or index.numel() <= self.checkpoint_rows:
            return self._unit_block(index, None, bf16)
        blocks = index.split(self.checkpoint_rows)
        if self.node_embedding is None:
            table_blocks: Sequence[Optional[Tensor]] = [None] * len(blocks)
        else:
            # One gather and one split: the table's gradient is one scatter of [U, H] rows,
            # not one dense [N, H] gradient per block.
            weight = self.node_embedding.weight
            table_rows = F.embedding(index.to(weight.device), weight).to(self.compute_device)
            table_blocks = table_rows.split(self.checkpoint_rows)
        return torch.cat([checkpoint(self._unit_block, rows, rows_of_table, bf16,
                                     use_reentrant=False)
                          for rows, rows_of_table in zip(blocks, table_blocks)])

    @torch.no_grad()
    def embed(self, indices: Optional[Tensor] = None, batch_size: int = 65536) -> Tensor:
        """L2-normalised embeddings ``[N, H]`` (``[len(indices), H]`` for ``indices``), what
        the loss compares and KMeans clusters; computed ``batch_size`` nodes at a time."""
        index = torch.arange(self.num_nodes) if indices is None else \
            torch.as_tensor(indices, dtype=torch.long).view(-1).cpu()
        was_training = self.training
        self.eval()
        try:
            parts = [F.normalize(self._encode(chunk), dim=-1)
                     for chunk in index.split(batch_size)]
        finally:
            self.train(was_training)
        if not parts:
            return torch.empty(0, self.hidden_channels, device=self.compute_device)
        return torch.cat(parts, dim=0)

    # ----------------------------------------------------------------------- loss
    def loss(self, pos_rw: Tensor, neg_rw: Tensor,
             node_mapping: Optional[Tensor] = None) -> LossOutput:
        r"""The SimCLR-style loss of the class docstring for one batch.

        Args:
            pos_rw: ``[P, c]`` positive windows (first column the anchor).
            neg_rw: ``[k P, c]`` negative windows, ``k`` per positive window: row
                ``m P + r`` has the anchor of ``pos_rw[r]`` (as :meth:`sample` makes them).
            node_mapping: ``[U]`` global id of each batch-local id used in the windows (from
                :meth:`loader`); ``None`` when the windows hold global ids.

        Returns:
            :class:`LossOutput` with the total and ``align`` (mean positive cosine) and
            ``negative`` (mean negative cosine) components.
        """
        for name, rw in (("pos_rw", pos_rw), ("neg_rw", neg_rw)):
            if not isinstance(rw, Tensor) or rw.dim() != 2 or rw.size(1) < 2 or \
                    rw.size(0) == 0 or rw.dtype.is_floating_point:
                raise ValueError(f"{name} must be a non-empty integer tensor of shape "
                                 f"[num_windows, context_size >= 2], got "
                                 f"{list(rw.shape) if isinstance(rw, Tensor) else rw!r}.")
        num_pos = pos_rw.size(0)
        if neg_rw.size(0) % num_pos or not torch.equal(
                neg_rw[:, 0], pos_rw[:, 0].repeat(neg_rw.size(0) // num_pos)):
            raise ValueError("neg_rw must hold k negative windows per positive window, row "
                             "m * len(pos_rw) + r starting at the anchor of pos_rw[r]; build "
                             "them with model.sample / model.loader.")
        if node_mapping is None:
            node_mapping, inverse = torch.unique(torch.cat([pos_rw.reshape(-1),
                                                            neg_rw.reshape(-1)]),
                                                 return_inverse=True)
            pos_rw = inverse[:pos_rw.numel()].view_as(pos_rw)
            neg_rw = inverse[pos_rw.numel():].view_as(neg_rw)
        elif int(max(pos_rw.max(), neg_rw.max())) >= node_mapping.numel():
            raise ValueError("pos_rw / neg_rw hold local ids beyond node_mapping; pass the "
                             "three tensors of one loader batch together.")
        device = self.compute_device
        z = self._encode_unit(node_mapping.cpu())
        s_pos, s_neg = _window_similarities(z, pos_rw.to(device), neg_rw.to(device))
        # The k negative windows of positive window r, side by side: [P, k (c'-1)].
        s_neg_rows = s_neg.view(-1, num_pos, s_neg.size(1)).transpose(0, 1).reshape(num_pos, -1)
        inv_tau = 1.0 / self.tau
        log_pos = torch.logsumexp(s_pos * inv_tau, dim=1)
        log_all = torch.logsumexp(torch.cat([s_pos, s_neg_rows], dim=1) * inv_tau, dim=1)
        total = -torch.exp(log_pos - log_all).mean()
        return LossOutput(total, {"align": s_pos.mean(), "negative": s_neg.mean()})

    # ----------------------------------------------------------------------- training
    def train_epoch(self, loader: Iterable[Tuple[Tensor, Tensor, Tensor]],
                    optimizer: Optimizer, epoch: int, verbose: bool = True) -> float:
        """One pass over ``loader`` (from :meth:`loader`); returns the mean loss."""
        return self._train_epoch(loader, lambda batch: self.loss(*batch), optimizer, epoch,
                                 verbose)

    def train_loader(self, data: Data, *, mini_batch: bool = False, batch_size: int = 2708,
                     fan_out: Any = None, seed: Optional[int] = None) -> DataLoader:
        """S3GC always trains on its own batches: :meth:`loader` over shuffled nodes,
        ``batch_size`` start nodes each (``--mini-batch`` changes nothing in training)."""
        return self.loader(batch_size=batch_size, shuffle=True)

    def fit_epoch(self, loader: Iterable[Tuple[Tensor, Tensor, Tensor]],
                  optimizers: Dict[str, Optimizer], epoch: int, verbose: bool = False,
                  **loss_kwargs: Any) -> float:
        return self.train_epoch(loader, optimizers["model"], epoch, verbose=verbose)

    # ----------------------------------------------------------------------- inference
    @torch.no_grad()
    def infer_embedding(self, data: Data, loader: Optional[Iterable[Data]] = None,
                        verbose: bool = False) -> Tensor:
        """:meth:`embed` of every node, in blocks of rows (a neighbour ``loader`` is not
        needed: the inputs are precomputed)."""
        return self.embed()

    def _inputs(self, data: Data) -> Dict[str, Any]:
        return {}

    def _infer(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.embed()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.num_nodes}, {self.in_channels}, "
                f"{self.hidden_channels}, scale={self.scale!r}, walk_length={self.walk_length}, "
                f"context_size={self.context_size})")


def _window_similarities(z: Tensor, *windows: Tensor) -> List[Tensor]:
    """``[W, c-1]`` inner products between the first node of each window and the others (unit
    rows ``z``: cosines), one block per ``[W, c]`` window tensor given.

    All anchor-context pairs of all blocks form one sparse pattern, scored by one sampled
    dense-dense product (:func:`pyagc.ops.pattern_sddmm`) whose backward pass is two sparse
    products: no ``[W, c-1, H]`` gather of embedding rows in either direction, and memory
    ``O(#pairs)`` besides ``z``. On Cora's windows (108k windows of 3 nodes, ``H = 256``) this
    is ~10x less CPU time than gathering the rows and multiplying them (forward + backward).
    """
    rows, cols = [], []
    for rw in windows:
        rows.append(rw[:, :1].expand(-1, rw.size(1) - 1).reshape(-1))
        cols.append(rw[:, 1:].reshape(-1))
    n = z.size(0)
    pattern = csr_pattern(torch.cat(rows), torch.cat(cols), n, n)
    scores = pattern_sddmm(pattern, z, z)
    return [part.view(rw.size(0), rw.size(1) - 1) for part, rw in
            zip(scores.split([r.numel() for r in rows]), windows)]


__all__ = ["S3GC", "precompute_features", "diffusion_coefficients", "resolve_scale",
           "SCALE_LIMITS"]
