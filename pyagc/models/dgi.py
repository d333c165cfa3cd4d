"""Deep Graph Infomax.

Veličković et al., "Deep Graph Infomax", ICLR 2019.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module, Parameter
from torch_geometric.data import Data
from torch_geometric.nn.inits import reset, uniform

from pyagc.models.base import LossOutput, TrainableModel
from pyagc.ops.random import DeviceGenerators

__all__ = ["DGI"]


def _mean_summary(z: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    return torch.sigmoid(z.mean(dim=0))


def _shuffle_rows(x: Tensor, edge_index: Tensor, *args: Any,
                  generator: Optional[torch.Generator] = None, **kwargs: Any
                  ) -> Tuple[Tensor, Tensor]:
    perm = torch.randperm(x.size(0), generator=generator, device=x.device)
    return x[perm], edge_index


class DGI(TrainableModel):
    r"""Deep graph infomax (Veličković et al., ICLR 2019).

    Deep Graph Infomax: an encoder :math:`\mathcal{E}` trained so that a bilinear
    discriminator tells the patches of the graph from those of a corrupted graph, both
    scored against the real graph's summary :math:`\mathbf{s} = \mathcal{R}(\mathbf{H})`:

    .. math::
        \mathcal{L} = -\frac{1}{N}\sum_i \log\sigma(\mathbf{h}_i^\top\mathbf{W}\mathbf{s})
        -\frac{1}{N}\sum_i \log\bigl(1-\sigma(\tilde{\mathbf{h}}_i^\top\mathbf{W}\mathbf{s})\bigr)

    with :math:`\mathbf{H} = \mathcal{E}(\mathbf{X}, \mathbf{A})`,
    :math:`\tilde{\mathbf{H}} = \mathcal{E}(\mathcal{C}(\mathbf{X}, \mathbf{A}))`.

    Args:
        hidden_channels: width ``H`` of the encoder output (size of :math:`\mathbf{W}`).
        encoder: maps ``(x [N, F], edge_index)`` to ``[N, H]``.
        summary: readout ``R(z, *args) -> [H]``; default :math:`\sigma(\text{mean}_i\,\mathbf{z}_i)`.
        corruption: ``C(x, edge_index) -> (x', edge_index')`` (or just ``x'``); default a
            uniform row permutation of ``x`` (an encoder with ``supports_x_perm``, such as
            :class:`~pyagc.encoders.TunedGNN`, is given the permutation as ``x_perm=`` and
            applies it to its prepared features). A custom corruption draws its own randomness.
        seed: seed of the default corruption's permutations (keyword-only; ``None``: torch's
            global RNG). Each device gets its own generator seeded with ``seed``;
            ``reset_parameters`` restarts them.

    Mini-batch (:meth:`loss_batch`): the summary is taken over the seed nodes of the batch and
    only the seeds' patches (clean and corrupted) are discriminated; the corruption permutes
    the rows of the whole sampled subgraph.
    """

    family = "deep-decoupled"
    supports_mini_batch = True

    def __init__(self, hidden_channels: int, encoder: Module,
                 summary: Optional[Callable] = None, corruption: Optional[Callable] = None,
                 *, seed: Optional[int] = None) -> None:
        super().__init__()
        if not isinstance(hidden_channels, int) or hidden_channels < 1:
            raise ValueError(f"hidden_channels must be a positive int, got {hidden_channels!r}.")
        if not isinstance(encoder, Module):
            raise TypeError(f"encoder must be a torch.nn.Module, got {type(encoder).__name__}.")
        self.hidden_channels = hidden_channels
        self.encoder = encoder
        self.summary = _mean_summary if summary is None else summary
        self.corruption = _shuffle_rows if corruption is None else corruption
        self.weight = Parameter(torch.empty(hidden_channels, hidden_channels))
        self._rng = DeviceGenerators(seed)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset(self.encoder)
        if isinstance(self.summary, Module):
            reset(self.summary)
        uniform(self.hidden_channels, self.weight)
        self._rng.reset()

    def _corrupt(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                 **kwargs: Any) -> Tensor:
        r"""The encoding of the corrupted graph, :math:`\tilde{\mathbf{H}}`."""
        if self.corruption is _shuffle_rows:
            perm = torch.randperm(x.size(0), generator=self._rng(x.device), device=x.device)
            if getattr(self.encoder, "supports_x_perm", False):
                # The encoding of x[perm], the encoder shuffling its prepared (CSR) features.
                return self.embed(x, edge_index, edge_weight, x_perm=perm, **kwargs)
            return self.embed(x[perm], edge_index, edge_weight, **kwargs)
        out = self.corruption(x, edge_index)
        out = out if isinstance(out, tuple) else (out, edge_index)
        return self.embed(*(out if len(out) == 3 else (*out, edge_weight)), **kwargs)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                **kwargs: Any) -> Tuple[Tensor, Tensor, Tensor]:
        """``(pos_z [N, H], neg_z [N, H], summary [H])``."""
        pos_z = self.embed(x, edge_index, edge_weight, **kwargs)
        neg_z = self._corrupt(x, edge_index, edge_weight, **kwargs)
        return pos_z, neg_z, self.summary(pos_z)

    def embed(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
              **kwargs: Any) -> Tensor:
        if edge_weight is not None:
            kwargs["edge_weight"] = edge_weight
        return self.encoder(x, edge_index, **kwargs)

    def discriminate(self, z: Tensor, summary: Tensor, sigmoid: bool = True) -> Tensor:
        """Scores :math:`\\mathbf{z}_i^\\top\\mathbf{W}\\mathbf{s}` of each patch, shape ``[N]``."""
        # z @ (W s) costs O(N H) instead of the O(N H^2) of (z W) s.
        value = z @ (self.weight @ summary)
        return torch.sigmoid(value) if sigmoid else value

    def _infomax(self, pos_z: Tensor, neg_z: Tensor, summary: Tensor) -> LossOutput:
        pos = F.softplus(-self.discriminate(pos_z, summary, sigmoid=False)).mean()
        neg = F.softplus(self.discriminate(neg_z, summary, sigmoid=False)).mean()
        return LossOutput(pos + neg, {"pos": pos, "neg": neg})

    def loss(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None
             ) -> LossOutput:
        return self._infomax(*self.forward(x, edge_index, edge_weight))

    def loss_batch(self, batch: Data) -> LossOutput:
        # The loss reads the seed rows only, so the encoder may trim the hops per layer.
        pos_z, neg_z, _ = self.forward(**self._inputs(batch), **self._per_hop_inputs(batch))
        size = int(batch.batch_size)
        pos_z, neg_z = pos_z[:size], neg_z[:size]
        return self._infomax(pos_z, neg_z, self.summary(pos_z))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.hidden_channels})"
