"""Node2Vec: skip-gram with negative sampling over (biased) random walks."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Embedding
from torch.optim import Optimizer
from torch.utils.data import DataLoader
from torch_geometric.data import Data

from pyagc.models.base import LossOutput, TrainableModel
from pyagc.sampling import check_walk_settings, random_walk, walk_graph, walk_windows
from pyagc.utils.validation import check_edge_index, check_scalar


class Node2Vec(TrainableModel):
    r"""node2vec random-walk embeddings (Grover & Leskovec, KDD 2016).

    Node2Vec, from `"node2vec: Scalable Feature Learning for Networks"
    <https://arxiv.org/abs/1607.00653>`_ (Grover & Leskovec, KDD 2016).

    Every node starts ``walks_per_node`` walks of ``walk_length`` steps
    (:func:`pyagc.sampling.random_walk`, second-order with return parameter ``p`` and in-out
    parameter ``q``). Each window of ``context_size`` consecutive nodes
    :math:`(u, v_1, \dots, v_{c-1})` is a positive sample, and ``num_negative_samples``
    windows of uniformly drawn nodes per positive are negatives; the skip-gram loss with
    negative sampling is

    .. math::
        \mathcal{L} = -\operatorname{mean}\log\sigma(\mathbf{z}_u^\top\mathbf{z}_{v})
        - \operatorname{mean}\log\sigma(-\mathbf{z}_u^\top\mathbf{z}_{n}).

    Works without pyg-lib / torch-cluster: the walks are pyagc's vectorised PyTorch walks.

    Args:
        edge_index: ``[2, E]`` edges (row 0 = source); walks follow out-edges.
        embedding_dim: embedding size.
        walk_length: steps per walk (a walk holds ``walk_length + 1`` nodes).
        context_size: window length, in ``[2, walk_length + 1]``.
        walks_per_node: walks started at each node per epoch.
        p, q: node2vec return and in-out parameters.
        num_negative_samples: negative windows per positive window.
        num_nodes: number of nodes (default ``edge_index.max() + 1``).
        sparse: sparse embedding gradients (use ``torch.optim.SparseAdam``).
        cpu_embedding: keep the table on CPU and move only the rows of each batch to the
            compute device set by :meth:`to` (for tables larger than the GPU).
        seed: seed of the walk and negative sampling (keyword-only; ``None``: torch's global RNG).

    Shapes:
        ``loss(pos_rw [B, c], neg_rw [B', c])``; ``embed() -> [num_nodes, embedding_dim]``.
    """

    family = "traditional"
    needs_features = False

    @classmethod
    def from_config(cls, cfg, data, n_clusters, *, seed=None) -> "Node2Vec":
        """As :meth:`BaseModel.from_config`, walking the edges of ``data``."""
        return super().from_config(dict(cfg, edge_index=data.edge_index,
                                        num_nodes=data.num_nodes), data, n_clusters, seed=seed)

    def __init__(self, edge_index: Tensor, embedding_dim: int, walk_length: int,
                 context_size: int, walks_per_node: int = 1, p: float = 1.0, q: float = 1.0,
                 num_negative_samples: int = 1, num_nodes: Optional[int] = None,
                 sparse: bool = False, cpu_embedding: bool = False, *,
                 seed: Optional[int] = None) -> None:
        super().__init__()
        edge_index = check_edge_index(edge_index, num_nodes).cpu()
        if num_nodes is None:
            if edge_index.numel() == 0:
                raise ValueError("num_nodes is required when edge_index is empty.")
            num_nodes = int(edge_index.max()) + 1
        self.num_nodes = check_scalar(int(num_nodes), "num_nodes", int, min_val=1)
        self.embedding_dim = check_scalar(embedding_dim, "embedding_dim", int, min_val=1)
        (self.walk_length, self.context_size, self.walks_per_node, self.num_negative_samples,
         self.p, self.q) = check_walk_settings(walk_length, context_size, walks_per_node,
                                               num_negative_samples, p, q)
        self.sparse = bool(sparse)
        self.cpu_embedding = bool(cpu_embedding)
        self.compute_device = torch.device("cpu")
        self.graph = walk_graph(edge_index, self.num_nodes)
        self.generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        self.embedding = Embedding(self.num_nodes, self.embedding_dim, sparse=self.sparse)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.embedding.reset_parameters()

    def to(self, *args: Any, **kwargs: Any) -> "Node2Vec":
        """Move the model; with ``cpu_embedding`` the table stays on CPU and only the compute
        device changes."""
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        if device is not None:
            self.compute_device = torch.device(device)
        if self.cpu_embedding:
            return self
        return super().to(*args, **kwargs)

    # ----------------------------------------------------------------------------- sampling
    def loader(self, **kwargs: Any) -> DataLoader:
        """A DataLoader over the node ids whose batches are ``(pos_rw, neg_rw)``."""
        return DataLoader(range(self.num_nodes), collate_fn=self.sample, **kwargs)

    def pos_sample(self, batch: Tensor) -> Tensor:
        """Windows of random walks started ``walks_per_node`` times at each node of ``batch``."""
        start = batch.repeat(self.walks_per_node)
        walks = random_walk(self.graph, start, self.walk_length, self.p, self.q,
                            generator=self.generator)
        return walk_windows(walks, self.context_size)

    def neg_sample(self, batch: Tensor) -> Tensor:
        """Windows whose start is a node of ``batch`` and whose context is uniform noise."""
        start = batch.repeat(self.walks_per_node * self.num_negative_samples)
        noise = torch.randint(self.num_nodes, (start.numel(), self.walk_length),
                              generator=self.generator)
        return walk_windows(torch.cat([start.unsqueeze(1), noise], dim=1), self.context_size)

    def sample(self, batch: Union[List[int], Tensor]) -> Tuple[Tensor, Tensor]:
        """``(pos_rw, neg_rw)`` for a batch of start nodes."""
        if not isinstance(batch, Tensor):
            batch = torch.tensor(batch, dtype=torch.long)
        batch = batch.long().cpu()
        return self.pos_sample(batch), self.neg_sample(batch)

    # ----------------------------------------------------------------------------- training
    def _lookup(self, index: Tensor) -> Tensor:
        if self.cpu_embedding:
            return self.embedding(index.cpu()).to(self.compute_device)
        return self.embedding(index.to(self.embedding.weight.device))

    def _scores(self, rw: Tensor) -> Tensor:
        start = self._lookup(rw[:, :1])                     # [B, 1, D]
        rest = self._lookup(rw[:, 1:])                      # [B, c-1, D]
        return (start * rest).sum(dim=-1).reshape(-1)

    def loss(self, pos_rw: Optional[Tensor] = None,
             neg_rw: Optional[Tensor] = None) -> LossOutput:
        """Skip-gram negative-sampling loss; without arguments, one sample of every node."""
        if pos_rw is None and neg_rw is None:
            pos_rw, neg_rw = self.sample(torch.arange(self.num_nodes))
        if pos_rw is None or neg_rw is None:
            raise ValueError("Give both pos_rw and neg_rw (or neither, to sample all nodes).")
        for name, rw in (("pos_rw", pos_rw), ("neg_rw", neg_rw)):
            if rw.dim() != 2 or rw.size(1) < 2:
                raise ValueError(f"{name} must have shape [num_windows, context_size >= 2], "
                                 f"got {list(rw.shape)}.")
        pos = -F.logsigmoid(self._scores(pos_rw)).mean()
        neg = -F.logsigmoid(-self._scores(neg_rw)).mean()
        return LossOutput(pos + neg, {"pos": pos, "neg": neg})

    def train_epoch(self, loader: Iterable[Tuple[Tensor, Tensor]], optimizer: Optimizer,
                    epoch: int, verbose: bool = True) -> float:
        """One pass over ``loader`` (from :meth:`loader`); returns the mean loss."""
        return self._train_epoch(loader, lambda walks: self.loss(*walks), optimizer, epoch,
                                 verbose)

    def train_loader(self, data: Data, *, mini_batch: bool = False, batch_size: int = 128,
                     fan_out: Any = None, seed: Optional[int] = None) -> DataLoader:
        """Every epoch walks from every node: :meth:`loader` over shuffled start nodes."""
        return self.loader(batch_size=batch_size, shuffle=True)

    def fit_epoch(self, loader: Iterable[Tuple[Tensor, Tensor]],
                  optimizers: Dict[str, Optimizer], epoch: int, verbose: bool = False,
                  **loss_kwargs: Any) -> float:
        return self.train_epoch(loader, optimizers["model"], epoch, verbose=verbose)

    # ---------------------------------------------------------------------------- inference
    @torch.no_grad()
    def embed(self, batch: Optional[Tensor] = None,
              device: Optional[torch.device] = None) -> Tensor:
        """Embeddings of ``batch`` (all nodes when ``None``), on ``device`` (default: the
        compute device with ``cpu_embedding``, else the table's device)."""
        weight = self.embedding.weight
        out = weight if batch is None else weight[batch.to(weight.device)]
        if device is None:
            device = self.compute_device if self.cpu_embedding else weight.device
        return out.detach().to(device)

    def _inputs(self, data: Data) -> Dict[str, Any]:
        # The graph is fixed at construction: training samples its own walks and inference
        # reads the table, so nothing is taken from ``data``.
        return {}

    def _infer(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.embed()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.num_nodes}, {self.embedding_dim}, "
                f"walk_length={self.walk_length}, context_size={self.context_size})")
