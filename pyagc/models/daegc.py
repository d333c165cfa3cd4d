"""Deep Attentional Embedded Graph Clustering.

Wang, Pan, Hu, Long, Jiang and Zhang, "Attributed Graph Clustering: A Deep Attentional
Embedding Approach", IJCAI 2019.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module
from torch.optim import Optimizer
from torch_geometric.data import Data
from torch_geometric.nn import InnerProductDecoder
from torch_geometric.nn.inits import reset

from pyagc.clusters.dec_head import DECClusterHead
from pyagc.encoders.tuned_gnn import TunedGAT, TunedGNN, layerwise_inference
from pyagc.models.base import ClusteringModel, LossOutput
from pyagc.ops.encoder_inputs import to_sparse_features
from pyagc.ops.negative_sampling import NegativeSampler
from pyagc.ops.random import DeviceGenerators
from pyagc.ops.sparse import CSRPattern, csr_pattern, pattern_sddmm
from pyagc.utils.cache import TensorCache
from pyagc.utils.validation import check_scalar

__all__ = ["DAEGC"]


def _pair_pattern(pairs: Tensor, num_nodes: int) -> CSRPattern:
    return csr_pattern(pairs[0], pairs[1], num_nodes, num_nodes)


class DAEGC(ClusteringModel):
    r"""Deep attentional embedded graph clustering (Wang et al., IJCAI 2019).

    A graph-attention auto-encoder self-trained towards sharpened Student-t assignments.

    DAEGC (Wang et al., IJCAI 2019). A graph-attention encoder gives
    :math:`\mathbf{Z} = \mathcal{E}(\mathbf{X}, \mathbf{A})` (rows L2-normalised with
    ``normalize=True``, as in the paper's code), an inner-product decoder
    :math:`\hat A_{ij} = \sigma(\mathbf{z}_i^\top\mathbf{z}_j)` reconstructs the graph and a
    :class:`~pyagc.clusters.DECClusterHead` gives Student-t assignments ``Q``:

    .. math::
        \mathcal{L} = \mathcal{L}_r + \gamma\,KL(\mathbf{P}\,\|\,\mathbf{Q}), \qquad
        \mathcal{L}_r = -\frac{1}{|E|}\sum_{(i,j)\in E}\log\hat A_{ij}
        - \frac{1}{|E^-|}\sum_{(i,j)\in E^-}\log(1 - \hat A_{ij})

    with :math:`E^-` uniform non-edges (as many as edges, fresh every step) and the target
    :math:`p_{ij} \propto q_{ij}^2 / \sum_i q_{ij}` recomputed from the current ``Q`` every
    ``update_interval`` epochs (epochs 1, 1 + ``update_interval``, ...) and held fixed in
    between. The paper reconstructs the dense proximity matrix (``O(N^2)``); here the
    reconstruction is the sampled-pairs estimate, ``O(E)`` per step. With the default
    decoder the pair scores :math:`\mathbf{z}_i^\top\mathbf{z}_j` are one sampled dense-dense
    product on the pairs' CSR pattern (:func:`~pyagc.ops.sparse.pattern_sddmm`; the edges'
    pattern is sorted once per graph), and their gradient two sparse products, instead of
    gathering ``[E, d]`` rows (the same loss and gradients; 3x faster on Cora).

    Two stages (``pyagc/configs/DAEGC.yaml``): pretrain on :math:`\mathcal{L}_r` alone
    (``loss_kwargs: {pretrain: true}``), set the centres by KMeans on ``Z``
    (:meth:`~pyagc.models.ClusteringModel.initialize_cluster_centers`), then finetune on
    :math:`\mathcal{L}`. Labels: :math:`\arg\max_j q_{ij}` (the nearest centre).

    Args:
        encoder: maps ``(x [N, F], edge_index [2, E])`` to ``[N, hidden_channels]`` (the paper
            uses graph attention: ``create_tuned_gnn('gat', ...)``).
        n_clusters: number of clusters ``k``.
        hidden_channels: width of the embedding.
        decoder: maps ``(z, edge_index, sigmoid=...)`` to one score per pair; default
            :class:`torch_geometric.nn.InnerProductDecoder`.
        gamma: weight :math:`\gamma` of the clustering term.
        update_interval: epochs between two target refreshes.
        alpha: Student-t degrees of freedom (keyword-only, 1 in the paper).
        normalize: L2-normalise the embedding rows (keyword-only, default ``True``).
        seed: seed of the negative pairs (keyword-only; ``None``: torch's global RNG).
        refresh_batch_size: mini-batch target refresh by layer-wise inference over the
            loader's whole graph, targets in node blocks of this size (keyword-only; ``None``:
            one no-grad pass over the loader's batches; see :meth:`refresh_target`).

    Mini-batch (:meth:`loss_batch`, batches of the default :meth:`train_loader`, an
    :class:`~pyagc.sampling.EdgePairNeighborLoader`, as :class:`~pyagc.models.GAE`'s): each
    batch of ``B`` uniformly drawn roots also draws ``B / 2`` edges uniformly from the whole
    graph (:attr:`edges_per_root`); roots and edge endpoints are the seeds, each embedded with
    its whole sampled neighbourhood. The positives are the drawn edges, the negatives as many
    pairs of roots, the KL term covers the roots (a uniform sample of the nodes) against the
    rows of the whole graph's ``P`` (``[N, k]``, refreshed every ``update_interval`` epochs,
    see :meth:`refresh_target`). Every term reads seed rows only, so
    the encoder runs per-hop trimmed to them (:class:`~pyagc.encoders.TunedGNN`): a
    16,384-root batch of a Products-sized graph no longer encodes its whole two-hop subgraph
    (~1.5M nodes) in the first layer. A plain :class:`~pyagc.sampling.NeighborLoader` batch
    is also accepted: then the positives are the sampled edges into the seeds (hop-1 rows,
    so the first layer runs on the whole subgraph) and the KL term covers all seeds.
    """

    family = "deep-joint"
    supports_mini_batch = True
    #: ``B / 2`` drawn edges per batch of ``B`` roots (see **Mini-batch**; GAE's value).
    edges_per_root = 0.5

    def __init__(self, encoder: Module, n_clusters: int, hidden_channels: int,
                 decoder: Optional[Module] = None, gamma: float = 10.0,
                 update_interval: int = 5, *, alpha: float = 1.0, normalize: bool = True,
                 seed: Optional[int] = None,
                 refresh_batch_size: Optional[int] = 65536) -> None:
        super().__init__()
        if not isinstance(encoder, Module):
            raise TypeError(f"encoder must be a torch.nn.Module, got {type(encoder).__name__}.")
        check_scalar(hidden_channels, "hidden_channels", int, min_val=1)
        check_scalar(gamma, "gamma", (int, float), min_val=0)
        check_scalar(update_interval, "update_interval", int, min_val=1)
        check_scalar(normalize, "normalize", bool)
        if refresh_batch_size is not None:
            check_scalar(refresh_batch_size, "refresh_batch_size", int, min_val=1)
        self.encoder = encoder
        self.decoder = InnerProductDecoder() if decoder is None else decoder
        self.cluster_head = DECClusterHead(n_clusters, hidden_channels, alpha)
        self.n_clusters = n_clusters
        self.hidden_channels = hidden_channels
        self.gamma = float(gamma)
        self.update_interval = int(update_interval)
        self.normalize = bool(normalize)
        self.refresh_batch_size = refresh_batch_size
        self._negatives = NegativeSampler()
        self._rng = DeviceGenerators(seed)
        self._sparse_x = TensorCache(to_sparse_features)
        # The positive pairs' CSR pattern, sorted once for the fixed full graph.
        self._positive_pattern = TensorCache(_pair_pattern)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset(self.encoder)
        reset(self.decoder)
        self.cluster_head.reset_parameters()
        self._rng.reset()

    # ------------------------------------------------------------------ forward pieces
    def embed(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
              **kwargs: Any) -> Tensor:
        """The embedding ``Z`` ``[N, hidden_channels]``."""
        if edge_weight is not None:
            kwargs["edge_weight"] = edge_weight
        if (isinstance(self.encoder, TunedGAT) and self.encoder.pre_linear is None
                and x.layout == torch.strided and not x.requires_grad):
            # A bag-of-words x as CSR (cached for the fixed full graph): the first attention
            # layer's Linear then costs O(nnz * width) instead of O(N * F * width).
            x = self._sparse_x(x)
        z = self.encoder(x, edge_index, **kwargs)
        return F.normalize(z, p=2.0, dim=1) if self.normalize else z

    def decode(self, z: Tensor, edge_index: Tensor, sigmoid: bool = True) -> Tensor:
        """Edge probabilities of the pairs ``edge_index`` (logits with ``sigmoid=False``)."""
        return self.decoder(z, edge_index, sigmoid=sigmoid)

    def _logits(self, z: Tensor, pairs: Tensor, pattern: Optional[CSRPattern] = None) -> Tensor:
        """``decode(z, pairs, sigmoid=False)``; the inner-product decoder's scores as one sampled
        dense-dense product on the pairs' CSR pattern (``pattern``, or built here)."""
        if type(self.decoder) is not InnerProductDecoder:
            return self.decode(z, pairs, sigmoid=False)
        if pattern is None:
            pattern = _pair_pattern(pairs, z.size(0))
        return pattern_sddmm(pattern, z, z)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                **kwargs: Any) -> Tensor:
        """Hard cluster labels ``[N]``."""
        return self.cluster_head.cluster(self.embed(x, edge_index, edge_weight, **kwargs))

    # ------------------------------------------------------------------ losses
    def recon_loss(self, z: Tensor, pos_edge_index: Tensor,
                   neg_edge_index: Optional[Tensor] = None) -> Tensor:
        """Binary cross-entropy of the positive pairs against negative ones (drawn uniformly
        among non-edges, as many as positives, when ``neg_edge_index`` is ``None``)."""
        if pos_edge_index.numel() == 0:
            raise ValueError("recon_loss needs at least one positive edge; the graph has none.")
        if neg_edge_index is None:
            neg_edge_index = self._negatives(pos_edge_index, z.size(0),
                                             generator=self._rng(pos_edge_index.device))
        pattern = (self._positive_pattern(pos_edge_index, z.size(0))
                   if type(self.decoder) is InnerProductDecoder else None)
        pos = F.softplus(-self._logits(z, pos_edge_index, pattern)).mean()
        if neg_edge_index.numel() == 0:
            return pos
        return pos + F.softplus(self._logits(z, neg_edge_index)).mean()

    def pretrain_loss(self, x: Tensor, edge_index: Tensor, **kwargs: Any) -> Tensor:
        """:math:`\\mathcal{L}_r` alone."""
        return self.recon_loss(self.embed(x, edge_index, **kwargs), edge_index)

    def _output(self, recon: Tensor, q: Optional[Tensor],
                index: Optional[Tensor] = None) -> LossOutput:
        if q is None:
            return LossOutput(recon, {"recon": recon})
        kl = self.cluster_head.kl_loss(q, index)
        return LossOutput(recon + self.gamma * kl, {"recon": recon, "kl": kl})

    def loss(self, x: Tensor, edge_index: Tensor, pretrain: bool = False,
             edge_weight: Optional[Tensor] = None, **kwargs: Any) -> LossOutput:
        z = self.embed(x, edge_index, edge_weight, **kwargs)
        recon = self.recon_loss(z, edge_index)
        if pretrain:
            return self._output(recon, None)
        if self.cluster_head.target is None:
            self.cluster_head(z.detach(), update_target=True)
        return self._output(recon, self.cluster_head(z, update_target=False))

    def loss_batch(self, batch: Data, pretrain: bool = False) -> LossOutput:
        edge_index, pos = batch.edge_index, getattr(batch, "pos_pairs", None)
        if pos is None:
            # The positives are the sampled edges into the seeds and read hop-1 rows: the
            # encoder keeps the seeds and hop 1; the negatives pair two seeds.
            z = self.embed(**self._inputs(batch), **self._per_hop_inputs(batch, keep_hops=1))
            roots = int(batch.batch_size)
            pos = edge_index[:, edge_index[1] < roots]
        else:
            # Every pair is a pair of seeds: the encoder computes the seeds' rows only.
            z = self.embed(**self._inputs(batch), **self._per_hop_inputs(batch, keep_hops=0))
            roots = int(batch.num_roots)
        neg = self._negatives(edge_index, batch.num_nodes, num_samples=pos.size(1),
                              num_src=roots, num_dst=roots,
                              generator=self._rng(edge_index.device))
        recon = self.recon_loss(z, pos, neg)
        if pretrain:
            return self._output(recon, None)
        if getattr(batch, "n_id", None) is None:
            raise ValueError("The batch has no n_id (global node ids); use "
                             "pyagc.sampling.NeighborLoader.")
        if self.cluster_head.target is None:
            raise ValueError("Mini-batch DAEGC needs the whole graph's target distribution: "
                             "call model.refresh_target(loader) before the first batch.")
        q = self.cluster_head(z[:roots], update_target=False)
        return self._output(recon, q, batch.n_id[:roots].to(q.device))

    # ------------------------------------------------------------------ self-training
    @torch.no_grad()
    def refresh_target(self, loader: Any) -> Tensor:
        """Recompute the target ``P`` ``[N, k]`` from the current ``Q`` of every node, in eval
        mode, and return it.

        On a whole graph (a :class:`Data`): one forward pass. On a neighbour loader: with
        :attr:`refresh_batch_size` set and a :class:`~pyagc.encoders.TunedGNN` encoder, ``Q``
        of the loader's whole graph (``loader.data``) by layer-wise inference
        (:func:`~pyagc.encoders.layerwise_inference`: ``num_layers`` passes over the graph
        with full neighbourhoods, node blocks of that size) -- exact, as on the whole graph,
        and cheaper than encoding every batch's sampled neighbourhood: 0.32x the time at 200k
        nodes (``benchmarks/bench_whole_graph_refresh.py``); at Products size the per-batch
        refresh took 1,225 s and the same layer-wise pass, as final inference, 104.5 s
        (``benchmarks/bench_products_deep.py``). Otherwise (``None``, another
        encoder, or a loader without ``data``) one pass over the loader's batches, seed rows
        placed by ``n_id`` (sampled neighbourhoods: the loader's fan-out)."""
        was_training = self.training
        self.eval()
        graph = getattr(loader, "data", None)
        try:
            if isinstance(loader, Data):
                data = loader.to(self.device)
                q = self.cluster_head.soft_assign(self.embed(**self._inputs(data)))
            elif (self.refresh_batch_size is not None and isinstance(graph, Data)
                  and isinstance(self.encoder, TunedGNN)):
                with layerwise_inference(self, self.refresh_batch_size):
                    z = self.embed(**self._inputs(graph.to(self.device)))
                q = self.cluster_head.soft_assign(z)
            else:
                q = None
                for batch in loader:
                    batch = batch.to(self.device)
                    size = int(batch.batch_size)
                    z = self.embed(**self._inputs(batch), **self._per_hop_inputs(batch))
                    part = self.cluster_head.soft_assign(z[:size])
                    if q is None:
                        num_nodes = int(getattr(loader, "data", batch).num_nodes)
                        q = part.new_zeros(num_nodes, self.n_clusters)
                    q[batch.n_id[:size].to(part.device)] = part
                if q is None:
                    raise ValueError("The training loader is empty: give it at least one node.")
            return self.cluster_head.update_target(q)
        finally:
            self.train(was_training)

    def _refresh_due(self, source: Any, epoch: int, pretrain: bool) -> None:
        """In the clustering stage, refresh the target on epochs ``1, 1 + update_interval,
        ...`` (and whenever there is none, e.g. after the centres were re-initialised)."""
        if not pretrain and (self.cluster_head.target is None
                             or (epoch - 1) % self.update_interval == 0):
            self.refresh_target(source)

    def train_full(self, data: Data, optimizer: Optimizer, epoch: int, verbose: bool = True,
                   pretrain: bool = False, **loss_kwargs: Any) -> float:
        """One full-graph step; the target is refreshed first when due (so a loop of
        ``train_full(data, opt, epoch, pretrain=False)`` calls self-trains as the paper)."""
        self._refresh_due(data, epoch, pretrain)
        return super().train_full(data, optimizer, epoch, verbose=verbose, pretrain=pretrain,
                                  **loss_kwargs)

    def train_batch(self, loader: Any, optimizer: Optimizer, epoch: int, verbose: bool = True,
                    pretrain: bool = False, **loss_kwargs: Any) -> float:
        """One mini-batch epoch; the target is refreshed first when due (one no-grad pass
        over ``loader``)."""
        self._refresh_due(loader, epoch, pretrain)
        return super().train_batch(loader, optimizer, epoch, verbose=verbose, pretrain=pretrain,
                                   **loss_kwargs)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n_clusters={self.n_clusters}, "
                f"hidden_channels={self.hidden_channels}, gamma={self.gamma}, "
                f"update_interval={self.update_interval})")
