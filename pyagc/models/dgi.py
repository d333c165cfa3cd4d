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
from pyagc.ops.encoder_inputs import EncoderInputCache, permute_rows
from pyagc.ops.random import DeviceGenerators

__all__ = ["DGI"]


def _mean_summary(z: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    return torch.sigmoid(z.mean(dim=0))


def _shuffle_rows(x: Tensor, edge_index: Tensor, *args: Any,
                  generator: Optional[torch.Generator] = None, **kwargs: Any
                  ) -> Tuple[Tensor, Tensor]:
    perm = torch.randperm(x.size(0), generator=generator, device=x.device)
    return permute_rows(x, perm), edge_index


class DGI(TrainableModel):
    r"""Deep Graph Infomax: an encoder :math:`\mathcal{E}` trained so that a bilinear
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
            uniform row permutation of ``x``. A custom corruption draws its own randomness.
        sparse_inputs: see :class:`~pyagc.models.GAE`.
        seed: seed of the default corruption's permutations (keyword-only; ``None``: torch's
            global RNG). Each device gets its own generator seeded with ``seed``;
            ``reset_parameters`` restarts them.

    Mini-batch (:meth:`loss_batch`): the summary is taken over the seed nodes of the batch and
    only the seeds' patches (clean and corrupted) are discriminated; the corruption permutes
    the rows of the whole sampled subgraph.
    """

    def __init__(self, hidden_channels: int, encoder: Module,
                 summary: Optional[Callable] = None, corruption: Optional[Callable] = None,
                 sparse_inputs: str = "auto", *, seed: Optional[int] = None) -> None:
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
        self._encoder_inputs = EncoderInputCache(sparse_inputs)
        self._rng = DeviceGenerators(seed)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset(self.encoder)
        if isinstance(self.summary, Module):
            reset(self.summary)
        uniform(self.hidden_channels, self.weight)
        self._encoder_inputs.clear()
        self._rng.reset()

    def _encode(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                **kwargs: Any) -> Tensor:
        return self._encoder_inputs.encode(self.encoder, x, edge_index, edge_weight, **kwargs)

    def _corrupt(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                 **kwargs: Any) -> Tensor:
        if self.corruption is _shuffle_rows:
            # Permuting the cached (possibly CSR) features keeps the corrupted pass as cheap
            # as the clean one; the graph is unchanged so its cached adjacency is reused.
            x_enc, adj, weight = self._encoder_inputs(self.encoder, x, edge_index, edge_weight)
            if weight is not None:
                kwargs["edge_weight"] = weight
            x_perm = _shuffle_rows(x_enc, adj, generator=self._rng(x_enc.device))[0]
            return self.encoder(x_perm, adj, **kwargs)
        out = self.corruption(x, edge_index)
        out = out if isinstance(out, tuple) else (out, edge_index)
        if len(out) == 3:
            return self._encode(*out, **kwargs)
        return self._encode(out[0], out[1], edge_weight, **kwargs)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                **kwargs: Any) -> Tuple[Tensor, Tensor, Tensor]:
        """``(pos_z [N, H], neg_z [N, H], summary [H])``."""
        pos_z = self._encode(x, edge_index, edge_weight, **kwargs)
        neg_z = self._corrupt(x, edge_index, edge_weight, **kwargs)
        return pos_z, neg_z, self.summary(pos_z)

    def embed(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
              **kwargs: Any) -> Tensor:
        return self._encode(x, edge_index, edge_weight, **kwargs)

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
        pos_z, neg_z, _ = self.forward(**self._inputs(batch))
        size = int(batch.batch_size)
        pos_z, neg_z = pos_z[:size], neg_z[:size]
        return self._infomax(pos_z, neg_z, self.summary(pos_z))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.hidden_channels})"
