"""Graph auto-encoders: GAE and VGAE.

Kipf & Welling, "Variational Graph Auto-Encoders", NIPS Bayesian Deep Learning Workshop 2016.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module
from torch_geometric.data import Data
from torch_geometric.nn import InnerProductDecoder
from torch_geometric.nn.inits import reset

from pyagc.encoders.variational import VariationalEncoder
from pyagc.models.base import LossOutput, TrainableModel
from pyagc.ops.negative_sampling import NegativeSampler
from pyagc.ops.random import DeviceGenerators
from pyagc.utils.validation import check_scalar

__all__ = ["GAE", "VGAE"]


class GAE(TrainableModel):
    r"""Graph auto-encoder (Kipf & Welling, 2016).

    Graph Auto-Encoder: an encoder :math:`\mathbf{Z} = f(\mathbf{X}, \mathbf{A})` trained to
    reconstruct the edges through a decoder, by default the inner product
    :math:`\hat{A}_{ij} = \sigma(\mathbf{z}_i^\top \mathbf{z}_j)`.

    .. math::
        \mathcal{L} = -\frac{1}{|E|}\sum_{(i,j)\in E}\log\sigma(\mathbf{z}_i^\top\mathbf{z}_j)
        -\frac{1}{|E^-|}\sum_{(i,j)\in E^-}\log\bigl(1-\sigma(\mathbf{z}_i^\top\mathbf{z}_j)\bigr)

    with :math:`E^-` uniform node pairs that are not edges (as many as :math:`|E|`).

    Args:
        encoder: maps ``(x [N, F], edge_index [2, E])`` to ``z [N, H]`` (a tuned GCN runs
            on a cached CSR form of the graph by itself: its ``sparse_inputs`` option).
        decoder: maps ``(z, edge_index, sigmoid=...)`` to one score per pair, default
            :class:`torch_geometric.nn.InnerProductDecoder`.
        seed: seed of the model's own draws, i.e. the negative pairs (and, in subclasses, the
            reparametrisation noise, prior samples) (keyword-only; ``None``: torch's global
            RNG). Each device the model runs on gets its own generator seeded with ``seed``
            (:class:`~pyagc.ops.random.DeviceGenerators`); ``reset_parameters``
            restarts them. Weight initialisation still uses the global RNG.

    Mini-batch (:meth:`loss_batch`, batches of the default :meth:`train_loader`, an
    :class:`~pyagc.sampling.EdgePairNeighborLoader`): each batch of ``B`` uniformly drawn
    root nodes (an epoch covers every node once) also draws ``B / 2`` edges uniformly with
    replacement from the whole graph (:attr:`edges_per_root`); roots and edge endpoints are the seeds, and the
    encoder computes only the seeds' rows, each with its whole sampled neighbourhood. The
    positive pairs are the drawn edges, the negatives as many uniform pairs of roots (not
    edges of the batch). Both terms are unbiased estimates of the full-graph loss's terms
    (mean over all edges; mean over uniform node pairs), up to the neighbour sampling of
    the embeddings themselves and the rare negative pair that is an edge outside the batch.
    A plain :class:`~pyagc.sampling.NeighborLoader` batch (no ``pos_pairs``) is also
    accepted: then the positives are the sampled edges into the seeds, whose neighbour
    ends are embedded with one hop of context less (a biased estimate).
    """

    family = "deep-decoupled"
    supports_mini_batch = True
    #: ``B / 2`` drawn edges per batch of ``B`` roots. Fewer positives per epoch cost
    #: quality on Cora (``pyagc run GAE --dataset Cora --mini-batch --runs 3``, seeds 0-2,
    #: one batch per epoch): previous seed-anchored batches 48.15 NMI; drawn edges per root
    #: 0.25 -> 45.20, 0.5 -> 47.56, 0.65 -> 47.83. CPU seconds per batch on the 1M-node graph
    #: (``benchmarks/bench_deep_minibatch.py --mode scale --model gae --batches 3``, one
    #: thread): previous 2.09; 0.25 -> 0.87, 0.5 -> 1.04, 0.65 -> 1.24.
    edges_per_root = 0.5

    def __init__(self, encoder: Module, decoder: Optional[Module] = None, *,
                 seed: Optional[int] = None) -> None:
        super().__init__()
        if not isinstance(encoder, Module):
            raise TypeError(f"encoder must be a torch.nn.Module, got {type(encoder).__name__}.")
        self.encoder = encoder
        self.decoder = InnerProductDecoder() if decoder is None else decoder
        self._negatives = NegativeSampler()
        self._rng = DeviceGenerators(seed)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset(self.encoder)
        reset(self.decoder)
        self._rng.reset()

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                **kwargs: Any) -> Tensor:
        """The latent codes ``z``, shape ``[N, H]``."""
        if edge_weight is not None:
            kwargs["edge_weight"] = edge_weight
        return self.encoder(x, edge_index, **kwargs)

    def embed(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
              **kwargs: Any) -> Tensor:
        return self.forward(x, edge_index, edge_weight, **kwargs)

    def decode(self, *args: Any, **kwargs: Any) -> Tensor:
        """Runs the decoder: edge probabilities (or logits with ``sigmoid=False``)."""
        return self.decoder(*args, **kwargs)

    def recon_loss(self, z: Tensor, pos_edge_index: Tensor,
                   neg_edge_index: Optional[Tensor] = None) -> Tensor:
        """Binary cross-entropy of the positive edges against negative pairs (sampled if None)."""
        if pos_edge_index.numel() == 0:
            raise ValueError("recon_loss needs at least one positive edge; the graph has none.")
        if neg_edge_index is None:
            neg_edge_index = self._negatives(pos_edge_index, z.size(0),
                                             generator=self._rng(pos_edge_index.device))
        # softplus(-s) = -log(sigmoid(s)) without the log(0) that large scores would give.
        pos = F.softplus(-self.decoder(z, pos_edge_index, sigmoid=False)).mean()
        if neg_edge_index.numel() == 0:
            return pos
        neg = F.softplus(self.decoder(z, neg_edge_index, sigmoid=False)).mean()
        return pos + neg

    def _batch_pairs(self, batch: Data, num_src: Optional[int] = None) -> Tuple[Tensor, Tensor]:
        """Seed-anchored positive edges of a sampled subgraph (into the seeds, from the seeds
        and hop 1) and as many negative pairs: a seed and one of the first ``num_src`` nodes
        (default: any node of the subgraph; the batch size: another seed)."""
        edge_index, size = batch.edge_index, int(batch.batch_size)
        pos = edge_index[:, edge_index[1] < size]
        neg = self._negatives(edge_index, batch.num_nodes, num_samples=pos.size(1),
                              num_src=num_src, num_dst=size,
                              generator=self._rng(edge_index.device))
        return pos, neg

    def loss(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None
             ) -> Union[Tensor, LossOutput]:
        z = self.forward(x, edge_index, edge_weight)
        return self.recon_loss(z, edge_index)

    def loss_batch(self, batch: Data) -> Union[Tensor, LossOutput]:
        pos = getattr(batch, "pos_pairs", None)
        if pos is None:
            # The positive pairs read hop-1 rows, so the encoder keeps the seeds and hop 1
            # (where it can trim); the negatives pair two seeds (uniformly drawn nodes).
            z = self.encoder(**self._inputs(batch),
                             **self._per_hop_inputs(batch, keep_hops=1))
            pos, neg = self._batch_pairs(batch, num_src=int(batch.batch_size))
            return self.recon_loss(z, pos, neg)
        # Every pair is a pair of seeds: the encoder computes the seeds' rows only.
        z = self.encoder(**self._inputs(batch), **self._per_hop_inputs(batch, keep_hops=0))
        roots = int(batch.num_roots)
        neg = self._negatives(batch.edge_index, batch.num_nodes, num_samples=pos.size(1),
                              num_src=roots, num_dst=roots,
                              generator=self._rng(batch.edge_index.device))
        return self.recon_loss(z, pos, neg)


class _Variational:
    r"""Gaussian latent codes for VGAE / ARGVA: the encoder returns ``(mu, logstd)``, read
    relative to ``log(std_scale)``: :math:`\sigma = \text{std\_scale}\cdot\exp(\text{logstd})`."""

    MAX_LOGSTD = 10.0
    #: Default ``std_scale``: the codes' noise at initialisation, where a zero-centred log-std
    #: head starts (see :class:`VGAE`). ``1.0`` is the paper's parametrisation.
    DEFAULT_STD_SCALE = 0.1

    def _set_std_scale(self, std_scale: float) -> None:
        check_scalar(std_scale, "std_scale", (int, float), min_val=0.0, max_val=math.inf,
                     include_boundaries="right")
        self.std_scale = float(std_scale)

    # The ``model.encoder`` section builds a shared trunk with ``mu`` and ``logstd`` heads.
    encoder_factory = VariationalEncoder

    def _mu_logstd(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                   **kwargs: Any) -> Tuple[Tensor, Tensor]:
        if edge_weight is not None:
            kwargs["edge_weight"] = edge_weight
        out = self.encoder(x, edge_index, **kwargs)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(f"{type(self).__name__} needs an encoder returning (mu, logstd); "
                            f"got {type(out).__name__}. Give it two output heads.")
        mu, logstd = out
        if self.std_scale != 1.0:
            logstd = logstd + math.log(self.std_scale)
        # exp(logstd) overflows past ~88; the cap keeps the KL term finite.
        logstd = logstd.clamp(max=self.MAX_LOGSTD)
        self._mu, self._logstd = mu, logstd
        return mu, logstd

    def reparametrize(self, mu: Tensor, logstd: Tensor) -> Tensor:
        """``mu + eps * exp(logstd)`` with ``eps ~ N(0, I)`` while training, ``mu`` otherwise."""
        if self.training:
            eps = torch.randn(logstd.shape, generator=self._rng(logstd.device),
                              dtype=logstd.dtype, device=logstd.device)
            return mu + eps * torch.exp(logstd)
        return mu

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                **kwargs: Any) -> Tensor:
        mu, logstd = self._mu_logstd(x, edge_index, edge_weight, **kwargs)
        return self.reparametrize(mu, logstd)

    def embed(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
              **kwargs: Any) -> Tensor:
        """The posterior means ``mu``, shape ``[N, H]`` (deterministic)."""
        return self._mu_logstd(x, edge_index, edge_weight, **kwargs)[0]

    def kl_loss(self, mu: Optional[Tensor] = None, logstd: Optional[Tensor] = None) -> Tensor:
        r"""Mean over nodes of :math:`KL(\mathcal{N}(\mu, \sigma^2) \| \mathcal{N}(0, I))`;
        defaults to the codes of the last forward pass."""
        mu = getattr(self, "_mu", None) if mu is None else mu
        logstd = getattr(self, "_logstd", None) if logstd is None else logstd.clamp(
            max=self.MAX_LOGSTD)
        if mu is None or logstd is None:
            raise ValueError("kl_loss() needs mu and logstd; run the model forward first or pass them.")
        return -0.5 * torch.mean(torch.sum(1 + 2 * logstd - mu ** 2 - logstd.exp() ** 2, dim=1))


class VGAE(_Variational, GAE):
    r"""Variational graph auto-encoder (Kipf & Welling, 2016).

    Variational GAE: the encoder gives :math:`(\boldsymbol\mu, \log\boldsymbol\sigma)`,
    :math:`\mathbf{z} = \boldsymbol\mu + \boldsymbol\epsilon \odot \boldsymbol\sigma` and

    .. math::
        \mathcal{L} = \mathcal{L}_{\text{recon}}(\mathbf{Z}) + \frac{1}{N}
        \frac{1}{N}\sum_i KL\bigl(\mathcal{N}(\boldsymbol\mu_i, \boldsymbol\sigma_i^2)\,\|\,
        \mathcal{N}(0, I)\bigr)

    (the ``1/N`` weight of the paper, whose reconstruction term is a mean over node pairs;
    the authors' reconstruction is half of ours, :math:`\frac12(\text{mean}_{E} +
    \text{mean}_{E^-})`, so their KL counts twice as much relative to it: measured on Cora, the
    weight does not matter, see below). ``embed`` returns ``mu`` (no noise, in any mode). In
    mini-batch, ``N`` is the number of seed nodes and the KL term covers the seeds only.

    Noise scale (``std_scale``): :math:`\boldsymbol\sigma = \text{std\_scale}\cdot
    \exp(\text{logstd})` with ``logstd`` the encoder's second output, so a zero-centred
    log-std head starts at :math:`\sigma = \text{std\_scale}` (the paper: 1). The default 0.1
    is about where training takes :math:`\sigma` anyway (0.06-0.10). With the row-normalised
    features of :func:`~pyagc.data.get_dataset`, the entries of ``mu`` start with a standard
    deviation of 0.004 (the authors' unnormalised binary features: 0.065), so a unit noise
    drowns the reconstruction and ``mu`` learns almost nothing for ~100 epochs. Cora, 32-16
    GCN, KMeans on ``mu``, seeds 0-2 (``benchmarks/bench_vgae_noise.py``), NMI at epoch
    100 / 200: ``std_scale=1`` 13.3 / 32.7, the same with KL weight 0 15.0 / 32.9 (the KL term
    is not the cause), ``std_scale=1`` on binary features 46.6 / 47.7, ``std_scale=0.1``
    43.7 / 46.4, no noise and no KL 43.7 / 46.3, GAE 32-16 46.6 / 44.8. ``std_scale=1.0``
    restores the paper's parametrisation; the objective is unchanged (any :math:`\sigma` is
    reachable). Through the runner (``pyagc bench GAE VGAE --dataset Cora --runs 5``, 200
    epochs): 47.36 +- 1.86 NMI (``std_scale=1``: 44.23 +- 1.56 at 400 epochs), GAE 49.78 +-
    0.82 (32-32). The rest of that gap is within the seed spread: at 32-32, seeds 0-2, epoch
    200, VGAE gives 46.2 and its noise-free, KL-free twin 48.4. The documented call with a
    user-defined PyG encoder (``benchmarks/bench_documented.py --methods vgae gae``, 32-32,
    400 epochs, seeds 0-4): 48.86 +- 1.98 NMI (``std_scale=1``: 46.67 +- 2.74), GAE 49.59.

    Args:
        encoder: maps ``(x, edge_index)`` to ``(mu [N, H], logstd [N, H])``.
        decoder: as in :class:`GAE`.
        seed: seed of the negative pairs and of :math:`\boldsymbol\epsilon` (see :class:`GAE`).
        std_scale: the noise scale above, ``> 0`` (keyword-only).
    """

    # Its mini-batch loss reads the seed-anchored edges of plain neighbour batches.
    edges_per_root = None

    def __init__(self, encoder: Module, decoder: Optional[Module] = None, *,
                 seed: Optional[int] = None,
                 std_scale: float = _Variational.DEFAULT_STD_SCALE) -> None:
        super().__init__(encoder, decoder, seed=seed)
        self._set_std_scale(std_scale)

    def loss(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None
             ) -> LossOutput:
        mu, logstd = self._mu_logstd(x, edge_index, edge_weight)
        recon = self.recon_loss(self.reparametrize(mu, logstd), edge_index)
        kl = self.kl_loss(mu, logstd) / mu.size(0)
        return LossOutput(recon + kl, {"recon": recon, "kl": kl})

    def loss_batch(self, batch: Data) -> LossOutput:
        mu, logstd = self._mu_logstd(**self._inputs(batch))
        pos, neg = self._batch_pairs(batch)
        recon = self.recon_loss(self.reparametrize(mu, logstd), pos, neg)
        size = int(batch.batch_size)
        kl = self.kl_loss(mu[:size], logstd[:size]) / size
        return LossOutput(recon + kl, {"recon": recon, "kl": kl})
