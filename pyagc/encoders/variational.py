"""The two-headed Gaussian encoder of the variational graph auto-encoders (VGAE, ARGVA)."""
from __future__ import annotations

from typing import Any, Optional, Tuple

from torch import Tensor
from torch.nn import Module

from pyagc.encoders.tuned_gnn import create_tuned_gnn

__all__ = ["VariationalEncoder"]


class VariationalEncoder(Module):
    r"""Gaussian posterior encoder of VGAE (Kipf & Welling, 2016):

    .. math::
        \mathbf{H} = \mathrm{GNN}_{L-1}(\mathbf{X}, \mathbf{A}),\quad
        \boldsymbol\mu = \mathrm{GNN}_\mu(\mathbf{H}, \mathbf{A}),\quad
        \log\boldsymbol\sigma = \mathrm{GNN}_\sigma(\mathbf{H}, \mathbf{A})

    a shared trunk of ``num_layers - 1`` layers (activation after its last layer) and two
    one-layer heads, all built by :func:`pyagc.encoders.create_tuned_gnn`.

    Args:
        in_channels: input width ``F``.
        gnn_type, hidden_channels, num_layers, **kwargs: as :func:`create_tuned_gnn`.
        out_channels: latent width ``H`` (default ``hidden_channels``).

    Shapes: ``x [N, F]``, ``edge_index [2, E]`` -> ``(mu [N, H], logstd [N, H])``.
    """

    def __init__(self, in_channels: int, gnn_type: str = "gcn", hidden_channels: int = 32,
                 num_layers: int = 2, out_channels: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__()
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive int, got {num_layers!r}.")
        self.num_layers = num_layers
        self.out_channels = int(out_channels or hidden_channels)
        trunk_kwargs = dict(kwargs)
        trunk_kwargs["act_last"] = True
        self.trunk = (create_tuned_gnn(gnn_type, in_channels, hidden_channels, num_layers - 1,
                                       **trunk_kwargs) if num_layers > 1 else None)
        head_in = hidden_channels if num_layers > 1 else in_channels
        head_kwargs = {k: v for k, v in kwargs.items() if k not in ("act_last", "dropout")}
        self.mu = create_tuned_gnn(gnn_type, head_in, self.out_channels, 1, **head_kwargs)
        self.logstd = create_tuned_gnn(gnn_type, head_in, self.out_channels, 1, **head_kwargs)

    def reset_parameters(self) -> None:
        for module in (self.trunk, self.mu, self.logstd):
            if module is not None:
                module.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                **kwargs: Any) -> Tuple[Tensor, Tensor]:
        h = x if self.trunk is None else self.trunk(x, edge_index, edge_weight)
        return self.mu(h, edge_index, edge_weight), self.logstd(h, edge_index, edge_weight)
