"""Dink-Net: neural clustering on large graphs.

Liu, Liang, Tu, Wang, Zhou, Zhang, Zhu, Zhu and Liu, "Dink-Net: Neural Clustering on Large
Graphs", ICML 2023.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Linear, Module
from torch_geometric.data import Data
from torch_geometric.nn import MLP
from torch_geometric.nn.inits import reset

from pyagc.clusters.dink_head import DinkClusterHead
from pyagc.models.base import ClusteringModel, LossOutput
from pyagc.ops.random import DeviceGenerators
from pyagc.utils.validation import ConfigError, check_scalar

__all__ = ["DinkNet", "make_projector"]


def make_projector(channels: int, num_layers: int = 1, act: str = "prelu") -> Module:
    """Dink-Net's projection head ``[channels] -> [channels]``: one ``Linear`` for
    ``num_layers=1``, else an MLP of ``num_layers`` linear layers with ``act`` between them."""
    check_scalar(channels, "channels", int, min_val=1)
    check_scalar(num_layers, "num_layers", int, min_val=1)
    if num_layers == 1:
        return Linear(channels, channels)
    return MLP([channels] * (num_layers + 1), act=act, norm=None, plain_last=True)


class DinkNet(ClusteringModel):
    r"""Dilation-shrink graph clustering network, Dink-Net (Liu et al., ICML 2023).

    Real-vs-shuffled node discrimination, then centres pushed apart and nodes pulled to them.

    Dink-Net (Liu et al., ICML 2023). The encoder gives :math:`\mathbf{H} =
    \mathcal{E}(\mathbf{X}, \mathbf{A})` and, on row-shuffled features,
    :math:`\tilde{\mathbf{H}} = \mathcal{E}(\mathcal{C}(\mathbf{X}), \mathbf{A})`; the projector
    :math:`g` scores a node by the sum of its projection, :math:`s_i = \mathbf{1}^\top
    g(\mathbf{h}_i)`. Node discrimination (binary cross-entropy over the ``2N`` nodes):

    .. math::
        \mathcal{L}_{\text{discri}} = -\frac{1}{2N}\sum_i\bigl(\log\sigma(s_i)
        + \log(1 - \sigma(\tilde s_i))\bigr)

    Clustering works on the L2-normalised rows :math:`\mathbf{z}_i = \mathbf{h}_i /
    \|\mathbf{h}_i\|` with learnable centres (:class:`~pyagc.clusters.DinkClusterHead`):

    .. math::
        \mathcal{L} = \mathcal{L}_{\text{dilation}} + \mathcal{L}_{\text{shrink}}
        + \alpha\,\mathcal{L}_{\text{discri}}

    (dilation: minus the mean squared distance between centres; shrink: mean squared
    distance of each node to its nearest centre). Two stages (``pyagc/configs/DinkNet.yaml``):
    pretrain on :math:`\mathcal{L}_{\text{discri}}` (``loss_kwargs: {pretrain: true}``), set the
    centres by KMeans on :math:`\mathbf{Z}`, then finetune on :math:`\mathcal{L}`. Labels: the
    nearest centre. ``embed`` returns :math:`\mathbf{Z}` ``[N, hidden_channels]``.

    Args:
        encoder: maps ``(x [N, F], edge_index)`` to ``[N, hidden_channels]``.
        projector: maps ``[n, hidden_channels]`` to ``[n, *]`` (:func:`make_projector`; the
            config's ``projector: {num_layers: L}`` builds one).
        n_clusters: number of clusters ``K``.
        hidden_channels: embedding width.
        corruption: ``C(x, edge_index) -> x'`` (or ``(x', edge_index')``); default a uniform
            row permutation of ``x`` drawn from ``seed`` (given to an encoder with
            ``supports_x_perm`` as ``x_perm=``).
        alpha: weight of the discrimination term while clustering (the paper's
            trade-off; ``0`` skips the corrupted pass).
        seed: seed of the default corruption (keyword-only; ``None``: torch's global RNG).

    Mini-batch (:meth:`loss_batch`): every term is a mean over nodes (or over centre pairs),
    so the seeds of a neighbour-sampled batch give unbiased estimates; the corruption permutes
    the rows of the sampled subgraph and only the seeds are scored. Memory and time per step
    depend on the batch, not on ``N`` (the point of the paper: 100M-node graphs).
    """

    family = "deep-joint"
    supports_mini_batch = True

    def __init__(self, encoder: Module, projector: Module, n_clusters: int,
                 hidden_channels: int, corruption: Optional[Callable] = None,
                 alpha: float = 1e-10, *, seed: Optional[int] = None) -> None:
        super().__init__()
        if not isinstance(encoder, Module):
            raise TypeError(f"encoder must be a torch.nn.Module, got {type(encoder).__name__}.")
        if not isinstance(projector, Module):
            raise TypeError(f"projector must be a torch.nn.Module, got "
                            f"{type(projector).__name__}.")
        if corruption is not None and not callable(corruption):
            raise TypeError("corruption must be callable (x, edge_index) -> x'.")
        check_scalar(hidden_channels, "hidden_channels", int, min_val=1)
        check_scalar(alpha, "alpha", (int, float), min_val=0)
        self.encoder = encoder
        self.projector = projector
        self.cluster_head = DinkClusterHead(n_clusters, hidden_channels)
        self.corruption = corruption
        self.n_clusters = n_clusters
        self.hidden_channels = hidden_channels
        self.alpha = float(alpha)
        self._rng = DeviceGenerators(seed)
        self.reset_parameters()

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], data: Data, n_clusters: int, *,
                    seed: Optional[int] = None) -> "DinkNet":
        """As :meth:`~pyagc.models.BaseModel.from_config`, plus the ``projector`` section
        (``{num_layers: L, act: ...}``, default one ``Linear``) built for the encoder's width."""
        kwargs = dict(cfg)
        encoder_cfg = kwargs.get("encoder")
        if isinstance(encoder_cfg, Mapping):
            if getattr(data, "x", None) is None:
                raise ValueError(f"{cls.__name__} needs node features, but the graph has none.")
            kwargs["encoder"] = cls.build_encoder(encoder_cfg, int(data.num_features))
        projector = kwargs.get("projector")
        if projector is None or isinstance(projector, Mapping):
            width = kwargs.get("hidden_channels") or getattr(kwargs.get("encoder"),
                                                             "out_channels", None)
            if width is None:
                raise ConfigError("DinkNet needs model.hidden_channels (or an encoder with "
                                  "out_channels) to build its projector.")
            try:
                kwargs["projector"] = make_projector(int(width), **dict(projector or {}))
            except (TypeError, ValueError) as err:
                raise ConfigError(f"Bad model.projector settings for DinkNet: {err}") from None
        return super().from_config(kwargs, data, n_clusters, seed=seed)

    def reset_parameters(self) -> None:
        reset(self.encoder)
        reset(self.projector)
        self.cluster_head.reset_parameters()
        self._rng.reset()

    # ------------------------------------------------------------------ forward pieces
    def encode(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
               **kwargs: Any) -> Tensor:
        """The encoder output :math:`\\mathbf{H}` (not normalised)."""
        if edge_weight is not None:
            kwargs["edge_weight"] = edge_weight
        return self.encoder(x, edge_index, **kwargs)

    def embed(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
              **kwargs: Any) -> Tensor:
        """The clustering embedding :math:`\\mathbf{Z}` (L2-normalised rows) ``[N, H]``."""
        return F.normalize(self.encode(x, edge_index, edge_weight, **kwargs), p=2.0, dim=1)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                **kwargs: Any) -> Tensor:
        """Hard cluster labels ``[N]`` (nearest centre)."""
        return self.cluster_head.cluster(self.embed(x, edge_index, edge_weight, **kwargs))

    def _corrupt(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None
                 ) -> Tensor:
        """:math:`\\tilde{\\mathbf{H}}`, the encoding of the corrupted graph."""
        if self.corruption is None:
            perm = torch.randperm(x.size(0), generator=self._rng(x.device), device=x.device)
            if getattr(self.encoder, "supports_x_perm", False):
                return self.encode(x, edge_index, edge_weight, x_perm=perm)
            return self.encode(x[perm], edge_index, edge_weight)
        out = self.corruption(x, edge_index)
        x_c, edge_c = out if isinstance(out, tuple) else (out, edge_index)
        return self.encode(x_c, edge_c, edge_weight if edge_c is edge_index else None)

    def discriminate(self, h: Tensor) -> Tensor:
        """Real-vs-corrupted logits :math:`s_i = \\mathbf{1}^\\top g(\\mathbf{h}_i)`, ``[n]``.

        For a linear projector :math:`g(\\mathbf{h}) = \\mathbf{W}\\mathbf{h} + \\mathbf{b}` this
        is :math:`(\\mathbf{1}^\\top\\mathbf{W})\\mathbf{h}_i + \\mathbf{1}^\\top\\mathbf{b}`,
        computed so in ``O(n d)`` instead of the ``O(n d^2)`` of projecting first (same value
        and gradients).
        """
        if isinstance(self.projector, Linear):
            score = h @ self.projector.weight.sum(dim=0)
            bias = self.projector.bias
            return score if bias is None else score + bias.sum()
        return self.projector(h).sum(dim=-1)

    def _discrimination(self, h: Tensor, h_corrupt: Tensor) -> Tensor:
        pos = F.softplus(-self.discriminate(h))
        neg = F.softplus(self.discriminate(h_corrupt))
        return 0.5 * (pos.mean() + neg.mean())

    # ------------------------------------------------------------------ losses
    def pretrain_loss(self, x: Tensor, edge_index: Tensor, **kwargs: Any) -> Tensor:
        """:math:`\\mathcal{L}_{\\text{discri}}` alone."""
        edge_weight = kwargs.pop("edge_weight", None)
        return self._discrimination(self.encode(x, edge_index, edge_weight),
                                    self._corrupt(x, edge_index, edge_weight))

    def _output(self, h: Tensor, h_corrupt: Optional[Tensor], pretrain: bool) -> LossOutput:
        disc = self._discrimination(h, h_corrupt) if h_corrupt is not None else None
        if pretrain:
            return LossOutput(disc, {"discri": disc})
        dilation, shrink = self.cluster_head(F.normalize(h, p=2.0, dim=1))
        total = dilation + shrink
        components = {"dilation": dilation, "shrink": shrink}
        if disc is not None:
            total = total + self.alpha * disc
            components["discri"] = disc
        return LossOutput(total, components)

    def loss(self, x: Tensor, edge_index: Tensor, pretrain: bool = False,
             edge_weight: Optional[Tensor] = None, **kwargs: Any) -> LossOutput:
        h = self.encode(x, edge_index, edge_weight)
        need_corrupt = pretrain or self.alpha > 0
        h_corrupt = self._corrupt(x, edge_index, edge_weight) if need_corrupt else None
        return self._output(h, h_corrupt, pretrain)

    def loss_batch(self, batch: Data, pretrain: bool = False) -> LossOutput:
        inputs = self._inputs(batch)
        size = int(batch.batch_size)
        h = self.encode(**inputs)[:size]
        h_corrupt = None
        if pretrain or self.alpha > 0:
            h_corrupt = self._corrupt(inputs["x"], inputs["edge_index"],
                                      inputs.get("edge_weight"))[:size]
        return self._output(h, h_corrupt, pretrain)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n_clusters={self.n_clusters}, "
                f"hidden_channels={self.hidden_channels}, alpha={self.alpha})")
