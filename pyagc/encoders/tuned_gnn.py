"""Configurable message-passing encoders ("tuned" classic GNNs) and their factory."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Identity, Linear, Module, ModuleList
from torch_geometric.nn import MLP, GATConv, GATv2Conv, GCNConv, GINConv, SAGEConv
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.models import JumpingKnowledge
from torch_geometric.utils import add_self_loops as _add_self_loops
from torch_geometric.utils import remove_self_loops, softmax
from torch_geometric.nn.resolver import activation_resolver, normalization_resolver

from pyagc.ops.adjacency import aggregation_csr, to_sparse_adjacency
from pyagc.ops.encoder_inputs import first_rows, permute_rows, select_rows, to_sparse_features
from pyagc.ops.sparse import (CSRPattern, csr_matmul, csr_pattern, csr_tensor, pattern_spmm,
                              transpose_csr)
from pyagc.utils.cache import TensorCache
from pyagc.utils.validation import check_scalar

_JK_MODES = (None, "last", "cat", "max", "lstm")
_SPARSE_INPUTS = ("auto", "off")


def _resolve_act(act: Union[str, Callable, None], act_kwargs: Dict[str, Any]) -> Module:
    if act is None or (isinstance(act, str) and act.lower() in ("none", "identity", "linear")):
        return Identity()
    if isinstance(act, Module):
        # A module instance would be shared between layers; a PReLU must not be.
        return act
    if callable(act) and not isinstance(act, str) and not isinstance(act, type):
        return _Lambda(act)
    try:
        return activation_resolver(act, **act_kwargs)
    except ValueError as err:
        raise ValueError(f"Unknown activation {act!r}: use e.g. 'relu', 'prelu', 'selu', "
                         "'elu', 'leaky_relu', 'gelu', 'tanh' or None.") from err


def _resolve_norm(norm: Union[str, Callable, None], channels: int,
                  norm_kwargs: Dict[str, Any]) -> Module:
    if norm is None or (isinstance(norm, str) and norm.lower() == "none"):
        return Identity()
    if isinstance(norm, str):
        key = norm.lower().replace("_", "").replace("norm", "")
        # Node-wise normalisations (PyG's LayerNorm defaults to graph-wise statistics, which
        # would make a node's output depend on the rest of the mini-batch).
        if key == "batch":
            return torch.nn.BatchNorm1d(channels, **norm_kwargs)
        if key == "layer":
            return torch.nn.LayerNorm(channels, **norm_kwargs)
    try:
        return normalization_resolver(norm, channels, **norm_kwargs)
    except ValueError as err:
        raise ValueError(f"Unknown norm {norm!r}: use 'batch_norm', 'layer_norm' or None.") from err


class _Lambda(Module):
    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)


class TunedGNN(Module):
    r"""A stack of message-passing layers with the training "tuning" knobs of
    "Classic GNNs are Strong Baselines" (Luo, Shi & Wu, NeurIPS 2024): an optional input
    projection, residual connections, normalisation, dropout and jumping knowledge.

    For layer :math:`\ell = 1..L` (input :math:`H^{(0)} = X` or :math:`X W_{in}` with
    ``pre_linear``):

    .. math::
        Z^{(\ell)} = \mathrm{Conv}_\ell(H^{(\ell-1)}, A)
                     + [\text{residual}]\, H^{(\ell-1)} W_{res}^{(\ell)}, \qquad
        H^{(\ell)} = \mathrm{Dropout}(\sigma(\mathrm{Norm}(Z^{(\ell)})))

    (``act_first`` swaps :math:`\sigma` and Norm; :math:`W_{res}` is the identity when the
    widths agree). The last layer is left linear unless ``act_last=True`` (then it gets
    Norm and :math:`\sigma`, no dropout) or ``jk`` is set (then every layer is processed and the
    layer outputs are combined by jumping knowledge, followed by a linear map to
    ``out_channels`` when given).

    Widths: ``in_channels -> hidden_channels -> ... -> out_channels`` (``out_channels=None``:
    ``hidden_channels``); with ``num_layers=1`` the single layer maps ``in_channels`` to
    ``out_channels or hidden_channels``.

    Shapes: ``x [N, in_channels]``, ``edge_index [2, E]`` (or a sparse ``adj_t`` for GCN) ->
    ``[N, out_channels or hidden_channels]``. Works on a full graph and on the mini-batches
    of :class:`pyagc.sampling.NeighborLoader` (take the first ``batch.batch_size`` rows).
    """

    supports_edge_weight: bool = False
    supports_edge_attr: bool = False
    # forward(..., x_perm=perm) encodes x[perm] (see forward).
    supports_x_perm: bool = True
    # forward(..., num_sampled_nodes_per_hop=, num_sampled_edges_per_hop=) trims per hop.
    supports_per_hop_trimming: bool = True
    # Under trimming, conv_forward gets only the edges into the rows the next layer reads (a
    # CSR adjacency of just those rows) and their count ``out_rows``, so it may compute those
    # rows alone; layers that need a square graph (GAT's self-loops) keep False.
    bipartite_trimming: bool = False
    # Set by layerwise_inference(): eval-mode, no-grad forward passes run inference().
    layerwise_batch_size: Optional[int] = None

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: Optional[int] = None,
        dropout: float = 0.0,
        act: Union[str, Callable, None] = "relu",
        act_first: bool = False,
        act_last: bool = False,
        act_kwargs: Optional[Dict[str, Any]] = None,
        norm: Union[str, Callable, None] = None,
        norm_kwargs: Optional[Dict[str, Any]] = None,
        residual: bool = False,
        pre_linear: bool = False,
        jk: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("hidden_channels", hidden_channels),
                            ("num_layers", num_layers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if out_channels is not None and (isinstance(out_channels, bool) or
                                         not isinstance(out_channels, int) or out_channels < 1):
            raise ValueError(f"out_channels must be a positive int or None, got {out_channels!r}.")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        if jk not in _JK_MODES:
            raise ValueError(f"jk must be one of {_JK_MODES}, got {jk!r}.")

        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.dropout = float(dropout)
        self.act_first = bool(act_first)
        self.act_last = bool(act_last)
        self.jk_mode = jk
        self.out_channels = out_channels if out_channels is not None else hidden_channels
        act_kwargs = dict(act_kwargs or {})
        norm_kwargs = dict(norm_kwargs or {})
        self._act_spec = (act, act_kwargs)

        self.pre_linear = Linear(in_channels, hidden_channels) if pre_linear else None
        first_in = hidden_channels if pre_linear else in_channels
        self.convs = ModuleList()
        self.norms = ModuleList()
        self.acts = ModuleList()
        self.residuals = ModuleList() if residual else None
        for layer in range(num_layers):
            last = layer == num_layers - 1
            c_in = first_in if layer == 0 else hidden_channels
            c_out = self.out_channels if (last and jk is None) else hidden_channels
            self.convs.append(self.init_conv(c_in, c_out, is_last=last and jk is None, **kwargs))
            processed = not last or act_last or jk is not None
            self.norms.append(_resolve_norm(norm, c_out, norm_kwargs) if processed else Identity())
            self.acts.append(_resolve_act(act, act_kwargs) if processed else Identity())
            if residual:
                self.residuals.append(Identity() if c_in == c_out else
                                      Linear(c_in, c_out, bias=False))

        self.jk = None
        self.lin_out = None
        if jk is not None:
            if jk != "last":
                self.jk = JumpingKnowledge(jk, hidden_channels, num_layers)
            jk_width = hidden_channels * num_layers if jk == "cat" else hidden_channels
            if out_channels is not None:
                self.lin_out = Linear(jk_width, out_channels)
            else:
                self.out_channels = jk_width
        self.reset_parameters()

    def init_conv(self, in_channels: int, out_channels: int, is_last: bool = False,
                  **kwargs: Any) -> MessagePassing:
        raise NotImplementedError

    def reset_parameters(self) -> None:
        for module in [self.pre_linear, self.jk, self.lin_out, *self.convs, *self.norms,
                       *self.acts, *(self.residuals or [])]:
            if module is not None and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        # Converted inputs remembered by subclasses (CSR graphs, transposes) start afresh.
        for value in vars(self).values():
            if isinstance(value, TensorCache):
                value.clear()

    # Hooks for subclasses -------------------------------------------------------------
    def prepare_inputs(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor]
                       ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """An equivalent, faster form of the inputs (GCN: CSR graph, features); identity here."""
        return x, edge_index, edge_weight

    def prepare_graph(self, x: Tensor, edge_index: Tensor,
                      edge_weight: Optional[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
        """Graph preprocessing shared by all layers (GCN normalisation); identity here."""
        return edge_index, edge_weight

    def conv_forward(self, layer: int, x: Tensor, edge_index: Tensor,
                     edge_weight: Optional[Tensor], edge_attr: Optional[Tensor],
                     out_rows: Optional[int] = None) -> Tensor:
        """Layer ``layer``'s convolution. ``out_rows`` (per-hop trimming): only the first
        ``out_rows`` output rows are read; a layer may return just those."""
        return self.convs[layer](x, edge_index)

    def _bipartite_conv(self, layer: int, x: Tensor, edge_index: Tensor,
                        out_rows: Optional[int]) -> Tensor:
        """``convs[layer]`` computing only the first ``out_rows`` targets (PyG's bipartite
        ``(x_src, x_dst)`` form), so the layer's linear maps run on those rows alone."""
        conv = self.convs[layer]
        if (out_rows is None or out_rows >= x.size(0) or x.layout != torch.strided
                or edge_index.layout != torch.strided):
            return conv(x, edge_index)
        return conv((x, x[:out_rows]), edge_index, size=(x.size(0), out_rows))

    # ----------------------------------------------------------------------------------
    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Optional[Tensor] = None,
        edge_attr: Optional[Tensor] = None,
        batch: Optional[Tensor] = None,
        batch_size: Optional[int] = None,
        num_sampled_nodes_per_hop: Optional[List[int]] = None,
        num_sampled_edges_per_hop: Optional[List[int]] = None,
        x_perm: Optional[Tensor] = None,
        keep_hops: int = 0,
    ) -> Tensor:
        """Node embeddings ``[N, out_channels]``.

        ``edge_weight`` is used by GCN layers (other layers ignore it, as in PyG's BasicGNN).
        ``batch`` and ``batch_size`` are accepted for PyG compatibility.

        **Per-hop trimming** (as PyG's ``trim_to_layer``). Given the per-hop counts of a
        :class:`~pyagc.sampling.NeighborLoader` batch (``num_sampled_nodes_per_hop=
        batch.num_sampled_nodes``, ``num_sampled_edges_per_hop=batch.num_sampled_edges``;
        nodes and edges grouped by hop), layer ``l`` runs only on the nodes and edges that the
        layers after it need: before layer ``l`` the last ``max(0, l - keep_hops)`` hops of
        nodes and edges are dropped, and each layer computes only the rows the next one
        reads. The output holds exactly the rows that equal the untrimmed output: the seed
        nodes (the first ``batch_size``) and the first ``keep_hops`` hops (a loss that reads
        hop-1 embeddings passes ``keep_hops=1``). GCN layers on the CSR adjacency aggregate
        before they transform when that is cheaper (:math:`(\hat A X) W` on the kept rows
        instead of :math:`\hat A (X W)` on every sampled node: the first layer of a 2-layer
        encoder then transforms the seeds and hop-1 nodes only, not the whole 2-hop set).
        Normalisation layers see the trimmed rows, so batch-norm statistics differ from an
        untrimmed pass. With jumping knowledge (layers of different heights) the whole
        subgraph is processed.

        ``x_perm`` (a permutation of the ``N`` nodes, DGI's corruption) gives the embeddings of
        ``x[x_perm]`` on the same graph without that matrix being built: the rows are permuted
        after the (cached, possibly CSR) input preparation and the row-wise ``pre_linear``,
        which leaves the result unchanged and keeps the cached inputs in use.

        Inside :func:`layerwise_inference`, an eval-mode forward without gradients runs
        :meth:`inference` (same output, memory bounded by its node batches).
        """
        if (self.layerwise_batch_size is not None and not self.training
                and not torch.is_grad_enabled() and x_perm is None):
            return self.inference(x, edge_index, edge_weight, edge_attr,
                                  batch_size=self.layerwise_batch_size)
        self._check_inputs(x, edge_index)
        x, edge_index, edge_weight = self.prepare_inputs(x, edge_index, edge_weight)
        edge_index, edge_weight = self.prepare_graph(x, edge_index, edge_weight)
        if self.pre_linear is not None:
            x = self.pre_linear(x)
        if x_perm is not None:
            if x_perm.shape != (x.size(0),):
                raise ValueError(f"x_perm must be a permutation of the {x.size(0)} nodes, got "
                                 f"shape {tuple(x_perm.shape)}.")
            x = permute_rows(x, x_perm)
        if (num_sampled_nodes_per_hop is None or num_sampled_edges_per_hop is None
                or self.jk_mode is not None):
            return self._stack(x, lambda layer, h: self.conv_forward(layer, h, edge_index,
                                                                      edge_weight, edge_attr))
        trimmed = _PerHopTrim(num_sampled_nodes_per_hop, num_sampled_edges_per_hop,
                              int(keep_hops), edge_index, edge_weight, edge_attr,
                              bipartite=self.bipartite_trimming)

        def conv(layer: int, h: Tensor) -> Tensor:
            out_rows = trimmed.rows(layer + 1)
            return first_rows(self.conv_forward(layer, h, *trimmed(layer), out_rows=out_rows),
                              out_rows)

        return self._stack(x, conv, trim=trimmed.rows)

    @torch.no_grad()
    def inference(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                  edge_attr: Optional[Tensor] = None, batch_size: int = 65536) -> Tensor:
        r"""Full-graph embeddings ``[N, out_channels]``, one layer at a time (eval mode, no
        gradients): what :meth:`forward` gives in eval mode, in ``num_layers`` passes over
        the graph instead of one sampled multi-hop subgraph per node batch (PyG's
        ``BasicGNN.inference`` does the same over a loader).

        Each layer's messages are computed for ``batch_size`` target nodes at a time with
        their full in-neighbourhoods, so the ``[E, width]`` message tensors of PyG layers
        never exist for the whole graph; the layer outputs (``[N, width]``) are kept, and
        normalisation, activation and jumping knowledge then run as in :meth:`forward` --
        row-wise ones (eval-mode batch norm with running statistics, layer norm, entry-wise
        activations) in place on blocks of ``batch_size`` rows, so that each layer holds one
        ``[N, width]`` tensor instead of one per step (5 GB each for 512 columns on 2.4M
        nodes). GCN layers on the CSR adjacency aggregate a whole layer in one
        SpMM, which needs no batching. Memory: ``O(N * width + batch edges * width)``.
        """
        self._check_inputs(x, edge_index)
        check_scalar(batch_size, "batch_size", int, min_val=1)
        was_training = self.training
        self.eval()
        # Whole-graph conversions this call adds to the caches (a CSR adjacency of the
        # Products-sized graph holds 1.5 GB) are dropped at the end; entries that were
        # already there (full-batch training's graph) stay.
        caches = [value for value in vars(self).values() if isinstance(value, TensorCache)]
        before = [cache.value for cache in caches]
        try:
            x, edge_index, edge_weight = self.prepare_inputs(x, edge_index, edge_weight)
            edge_index, edge_weight = self.prepare_graph(x, edge_index, edge_weight)
            if self.pre_linear is not None:
                x = torch.cat([self.pre_linear(x[i:i + batch_size])
                               for i in range(0, x.size(0), batch_size)])
            aggregate = self.layerwise_conv(x.size(0), edge_index, edge_weight, edge_attr,
                                            batch_size)
            return self._stack(x, aggregate, block=batch_size)
        finally:
            self.train(was_training)
            for cache, value in zip(caches, before):
                if cache.value is not value:
                    cache.clear()

    def layerwise_conv(self, num_nodes: int, edge_index: Tensor, edge_weight: Optional[Tensor],
                       edge_attr: Optional[Tensor], batch_size: int
                       ) -> Callable[[int, Tensor], Tensor]:
        """The ``(layer, h) -> conv output [N, width]`` of :meth:`inference`: each batch of
        target nodes runs the layer on the subgraph of its in-edges (targets first, so that
        layers adding self-loops add the right ones), keeping the target rows."""
        if edge_index.layout != torch.strided:
            return lambda layer, h: self.conv_forward(layer, h, edge_index, edge_weight,
                                                      edge_attr)
        order, ptr = _edges_by_target(edge_index, num_nodes)
        local = torch.full((num_nodes,), -1, dtype=torch.long, device=edge_index.device)

        def conv(layer: int, h: Tensor) -> Tensor:
            # Each batch's rows go straight into one [N, width] output: a list of parts and
            # their concatenation would hold the layer twice (2.5 GB each at 2.4M x 256).
            result: Optional[Tensor] = None
            for start in range(0, num_nodes, batch_size):
                stop = min(start + batch_size, num_nodes)
                ids = order[ptr[start]:ptr[stop]]
                src, dst = edge_index[0, ids], edge_index[1, ids] - start
                targets = torch.arange(start, stop, device=h.device)
                local[targets] = targets - start
                extra = torch.unique(src[local[src] < 0])
                local[extra] = torch.arange(stop - start, stop - start + extra.numel(),
                                            device=h.device)
                nodes = torch.cat([targets, extra])
                sub = torch.stack([local[src], dst])
                local[nodes] = -1
                out = self.conv_forward(layer, select_rows(h, nodes), sub,
                                        None if edge_weight is None else edge_weight[ids],
                                        None if edge_attr is None else edge_attr[ids],
                                        out_rows=stop - start)
                if result is None:
                    result = out.new_empty((num_nodes,) + tuple(out.shape[1:]))
                result[start:stop] = out[:stop - start]
            if result is None:
                raise ValueError("layer-wise inference needs at least one node.")
            return result

        return conv

    def _check_inputs(self, x: Tensor, edge_index: Tensor) -> None:
        if not isinstance(x, Tensor) or x.dim() != 2:
            raise ValueError(f"x must be a [num_nodes, {self.in_channels}] tensor, got "
                             f"{getattr(x, 'shape', type(x))}.")
        if x.size(1) != self.in_channels:
            raise ValueError(f"x has {x.size(1)} features but the encoder was built with "
                             f"in_channels={self.in_channels}.")
        if edge_index.layout == torch.strided and (edge_index.dim() != 2 or
                                                   edge_index.size(0) != 2):
            raise ValueError("edge_index must have shape [2, num_edges], got "
                             f"{tuple(edge_index.shape)}.")

    def _stack(self, x: Tensor, conv: Callable[[int, Tensor], Tensor],
               trim: Optional[Callable[[int], int]] = None, block: int = 65536) -> Tensor:
        """The layers after their convolutions (residual, normalisation, activation,
        dropout, jumping knowledge), with ``conv(layer, h)`` giving each convolution and
        ``trim(layer)`` the number of rows layer ``layer`` keeps (per-hop trimming); without
        gradients, row-wise normalisation and activation run in place on ``block`` rows at a
        time."""
        outputs: List[Tensor] = []
        for layer in range(self.num_layers):
            if trim is not None:
                x = first_rows(x, trim(layer))
            h = conv(layer, x)
            if self.residuals is not None:
                res = self.residuals[layer](first_rows(x, h.size(0)))
                # A sparse input (CSR bag-of-words features) passes the identity unchanged.
                h = h + (res.to_dense() if res.layout != torch.strided else res)
            # One [N, width] layer alive at a time where autograd does not keep them: the
            # layer input is dropped once read, and normalisation and activation are applied
            # one after the other (full-graph inference of a 512-wide encoder on 2.4M nodes
            # holds 5 GB per such tensor) -- in place on row blocks when both act row by
            # row (inference), so that neither makes a second [N, width] tensor.
            x = None
            steps = ((self.acts[layer], self.norms[layer]) if self.act_first
                     else (self.norms[layer], self.acts[layer]))
            if (self.training or torch.is_grad_enabled()
                    or not _rowwise_in_place(h, steps, block)):
                for step in steps:
                    h = step(h)
            if layer < self.num_layers - 1 or self.jk_mode is not None:
                h = F.dropout(h, p=self.dropout, training=self.training)
            x = h
            if self.jk_mode is not None:
                outputs.append(x)
        if self.jk_mode is not None:
            x = outputs[-1] if self.jk is None else self.jk(outputs)
            if self.lin_out is not None:
                x = self.lin_out(x)
        return x

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"num_layers={self.num_layers})")


class _PerHopTrim:
    """The graph each layer sees under per-hop trimming (see :meth:`TunedGNN.forward`):
    before layer ``l`` the last ``t = max(0, l - keep_hops)`` hops of nodes and of edges are
    dropped. Nodes come grouped by hop, so the kept nodes are a prefix; the kept edges are
    those into the nodes of all but the last kept hop (every edge of those hops points there),
    and a CSR ``adj_t`` (rows = targets) keeps those rows and has no entries in the others.
    With ``bipartite``, layer ``l`` gets only the edges into the ``rows(l + 1)`` nodes that
    the next layer reads (a CSR ``adj_t`` of shape ``[rows(l + 1), rows(l)]``)."""

    def __init__(self, num_nodes: List[int], num_edges: List[int], keep_hops: int,
                 edge_index: Tensor, edge_weight: Optional[Tensor],
                 edge_attr: Optional[Tensor], bipartite: bool = False) -> None:
        if len(num_nodes) != len(num_edges) + 1:
            raise ValueError(f"num_sampled_nodes_per_hop ({len(num_nodes)} hops with the seeds) "
                             f"must have one entry more than num_sampled_edges_per_hop "
                             f"({len(num_edges)}): pass batch.num_sampled_nodes and "
                             f"batch.num_sampled_edges of the same batch.")
        self.node_prefix = torch.tensor([0, *num_nodes]).cumsum(0).tolist()
        self.hops, self.keep_hops = len(num_edges), keep_hops
        self.graph = (edge_index, edge_weight, edge_attr)
        self.bipartite = bipartite

    def _cut(self, layer: int) -> int:
        return min(max(0, layer - self.keep_hops), self.hops)

    def rows(self, layer: int) -> int:
        return self.node_prefix[self.hops + 1 - self._cut(layer)]

    def __call__(self, layer: int) -> Tuple[Tensor, Optional[Tensor], Optional[Tensor]]:
        cut = self._cut(layer)
        edge_index, edge_weight, edge_attr = self.graph
        rows = self.rows(layer)
        if self.bipartite:
            # Of the rows with edges (all but the last hop's once trimming starts), keep
            # the ones the next layer reads.
            out_rows = self.rows(layer + 1)
            targets = min(self.node_prefix[self.hops - cut] if cut else rows, out_rows)
            if edge_index.layout == torch.sparse_csr:
                return self._csr_rows(edge_index, targets, out_rows, rows), edge_weight, \
                    edge_attr
            if cut == 0 and out_rows == rows:
                return edge_index, edge_weight, edge_attr
            return self._edges_into(targets, edge_index, edge_weight, edge_attr)
        if cut == 0:
            return edge_index, edge_weight, edge_attr
        if edge_index.layout == torch.sparse_csr:
            targets = self.node_prefix[self.hops - cut]
            return self._csr_rows(edge_index, targets, rows, rows), edge_weight, edge_attr
        return self._edges_into(self.node_prefix[self.hops - cut], edge_index, edge_weight,
                                edge_attr)

    @staticmethod
    def _edges_into(targets: int, edge_index: Tensor, edge_weight: Optional[Tensor],
                    edge_attr: Optional[Tensor]
                    ) -> Tuple[Tensor, Optional[Tensor], Optional[Tensor]]:
        # A mask rather than a prefix: GCN normalisation appends self-loops after the edges.
        keep = edge_index[1] < targets
        return (edge_index[:, keep], None if edge_weight is None else edge_weight[keep],
                None if edge_attr is None else edge_attr[keep])


    @staticmethod
    def _csr_rows(adj: Tensor, targets: int, out_rows: int, cols: int) -> Tensor:
        """The first ``targets`` rows of a CSR ``adj`` as a ``[out_rows, cols]`` matrix (rows
        ``targets..out_rows`` empty; columns all below ``cols``)."""
        crow = adj.crow_indices()
        end = int(crow[targets])
        crow = torch.cat([crow[:targets + 1], crow[targets].expand(out_rows - targets)])
        return csr_tensor(crow, adj.col_indices()[:end], adj.values()[:end], (out_rows, cols))


@contextmanager
def layerwise_inference(module: Module, batch_size: Optional[int] = 65536,
                        enabled: bool = True) -> Iterator[Module]:
    """Within the block, every :class:`TunedGNN` in ``module`` answers eval-mode forward
    passes without gradients with :meth:`TunedGNN.inference` (layer by layer, targets in
    batches of ``batch_size``), so a model's own ``embed`` on the full graph keeps memory at
    ``O(N * width)`` per layer; training passes are unchanged. ``enabled=False`` makes the
    block a no-op (for callers that choose at run time; ``batch_size`` is then unused)."""
    if not enabled:
        yield module
        return
    check_scalar(batch_size, "batch_size", int, min_val=1)
    encoders = [m for m in module.modules() if isinstance(m, TunedGNN)]
    previous = [m.layerwise_batch_size for m in encoders]
    for encoder in encoders:
        encoder.layerwise_batch_size = batch_size
    try:
        yield module
    finally:
        for encoder, value in zip(encoders, previous):
            encoder.layerwise_batch_size = value


#: Activations that act entry by entry (PReLU per channel), so row blocks can go one by one.
_ROWWISE_ACTS = (Identity, torch.nn.ReLU, torch.nn.PReLU, torch.nn.SELU, torch.nn.ELU,
                 torch.nn.CELU, torch.nn.LeakyReLU, torch.nn.GELU, torch.nn.Tanh,
                 torch.nn.Sigmoid, torch.nn.SiLU, torch.nn.Mish, torch.nn.Softplus,
                 torch.nn.ReLU6, torch.nn.Hardtanh)


def _is_rowwise(step: Module) -> bool:
    """Whether ``step`` (in eval mode) maps each row on its own: an entry-wise activation,
    ``LayerNorm``, or a ``BatchNorm1d`` that uses its running statistics."""
    if isinstance(step, _ROWWISE_ACTS) or isinstance(step, torch.nn.LayerNorm):
        return True
    return (isinstance(step, torch.nn.BatchNorm1d) and not step.training
            and step.running_mean is not None)


def _rowwise_in_place(h: Tensor, steps: Tuple[Module, ...], block: int) -> bool:
    """Apply ``steps`` to ``h`` ``[N, width]`` in place, ``block`` rows at a time, when
    every step maps rows independently (see :func:`_is_rowwise`; no gradients): the same
    values as ``steps`` on the whole tensor without a second ``[N, width]`` tensor per step.
    Returns ``False`` (``h`` untouched) when a step is not row-wise."""
    if h.layout != torch.strided or h.dim() != 2 or not all(_is_rowwise(s) for s in steps):
        return False
    for start in range(0, h.size(0), block):
        part = h[start:start + block]
        for step in steps:
            part = step(part)
        h[start:start + block] = part
    return True


def _edges_by_target(edge_index: Tensor, num_nodes: int) -> Tuple[Tensor, Tensor]:
    """``(order, ptr)``: ``edge_index[:, order]`` sorted by target (stably), the in-edges of
    targets ``start..stop-1`` at positions ``ptr[start]:ptr[stop]`` of ``order``."""
    order = torch.argsort(edge_index[1], stable=True)
    ptr = torch.searchsorted(edge_index[1, order],
                             torch.arange(0, num_nodes + 1, device=edge_index.device))
    return order, ptr


def _sparse_inputs_option(kwargs: Dict[str, Any]) -> str:
    """Pop and check the ``sparse_inputs`` option of GCN, SAGE and GAT encoders."""
    option = kwargs.pop("sparse_inputs", "auto")
    if option not in _SPARSE_INPUTS:
        raise ValueError(f"sparse_inputs must be one of {_SPARSE_INPUTS}, got {option!r}.")
    return option


def _row_block_products(adj: Tensor, h: Tensor, batch_size: int,
                        finish: Callable[[int, int, Tensor], Tensor]) -> Tensor:
    """``finish(start, stop, adj[start:stop] @ h)`` for blocks of ``batch_size`` rows of the
    CSR ``adj`` (row slices are views of its arrays), written into one ``[rows, width]``
    result: a whole-graph layer whose aggregated input never exists for all rows at once."""
    crow, col, values = adj.crow_indices(), adj.col_indices(), adj.values().to(h.dtype)
    rows, out = adj.size(0), None
    for start in range(0, rows, batch_size):
        stop = min(start + batch_size, rows)
        lo, hi = int(crow[start]), int(crow[stop])
        block = csr_tensor(crow[start:stop + 1] - lo, col[lo:hi], values[lo:hi],
                           (stop - start, adj.size(1)))
        part = finish(start, stop, torch.sparse.mm(block, h))
        if out is None:
            out = part.new_empty(rows, part.size(1))
        out[start:stop] = part
    return out


def _cached_csr_mm(transposes: TensorCache, a: Tensor, dense: Tensor) -> Tensor:
    """``a @ dense`` for a CSR ``a``, its transpose (for the backward pass) from ``transposes``."""
    if a.requires_grad or not dense.requires_grad:
        return torch.sparse.mm(a, dense)
    return csr_matmul(a, dense, transposes(a))


def _linear(lin: Module, x: Tensor, transposes: TensorCache) -> Tensor:
    """A layer's ``Linear`` on dense or CSR ``x`` (a CSR ``x``'s transpose from the cache)."""
    if x.layout != torch.sparse_csr:
        return lin(x)
    out = _cached_csr_mm(transposes, x, lin.weight.t())
    return out if lin.bias is None else out + lin.bias


def _gcn_normalise_csr(adj_t: Tensor, dtype: torch.dtype, fill: Optional[float]) -> Tensor:
    r""":math:`\hat D^{-1/2}(A + \text{fill}\,I)\hat D^{-1/2}` of a square CSR ``adj_t``
    (``fill=None``: no self-loops), computed on the CSR arrays: one diagonal entry is
    inserted per row at its column position (after an existing self-loop, if any: the
    product sums both, as PyG's ``gcn_norm`` does by adding a loop to every node and
    coalescing). The same matrix as ``gcn_norm`` on the CSR tensor up to float rounding, without
    its two conversions to ``[2, E]`` int64 edge lists and back: 78 bytes of peak memory per
    edge there (9 GB on the Products-sized graph) against ~30 here."""
    crow, col = adj_t.crow_indices(), adj_t.col_indices()
    n, device = adj_t.size(0), col.device
    values = adj_t.values().to(dtype)
    counts = crow.diff()
    if fill is not None:
        rows = torch.repeat_interleave(torch.arange(n, device=device, dtype=col.dtype), counts)
        after = col >= rows  # entries that move past the inserted diagonal of their row
        below = counts - torch.bincount(rows[after], minlength=n)
        # Old entry e of row i goes to e + i (one diagonal entry per earlier row), + 1 when
        # it comes after row i's diagonal.
        pos = torch.arange(col.numel(), device=device).add_(rows).add_(after)
        del rows, after
        diag = torch.arange(n, device=device)
        diag_pos = crow[:-1] + diag + below
        new_col = col.new_empty(col.numel() + n)
        new_col[pos] = col
        new_col[diag_pos] = diag.to(col.dtype)
        new_values = values.new_empty(col.numel() + n)
        new_values[pos] = values
        new_values[diag_pos] = fill
        del pos
        crow = crow + torch.arange(n + 1, device=device, dtype=crow.dtype)
        col, values, counts = new_col, new_values, counts + 1
    deg = torch.zeros(n, dtype=dtype, device=device).index_add_(
        0, torch.repeat_interleave(torch.arange(n, device=device), counts), values) \
        if values.numel() else torch.zeros(n, dtype=dtype, device=device)
    dis = deg.pow_(-0.5)
    dis.masked_fill_(dis == float("inf"), 0.0)
    if fill is None:  # values may still be adj_t's own array
        values = values.clone()
    values = values.mul_(torch.repeat_interleave(dis, counts)).mul_(dis[col])
    return csr_tensor(crow, col, values, (n, adj_t.size(1)))


def _gcn_normalise(edge_index: Tensor, edge_weight: Optional[Tensor], num_nodes: int,
                   dtype: torch.dtype, improved: bool, add_self_loops: bool):
    if (edge_index.layout == torch.sparse_csr and edge_weight is None
            and edge_index.size(0) == edge_index.size(1) and not edge_index.requires_grad):
        return _gcn_normalise_csr(edge_index, dtype, (2.0 if improved else 1.0)
                                  if add_self_loops else None), None
    weight = edge_weight
    if weight is None and edge_index.layout == torch.strided:
        # Explicit unit weights: without them PyG's loop insertion ignores the self-loop
        # weight 2 of improved=True.
        weight = torch.ones(edge_index.size(1), dtype=dtype, device=edge_index.device)
    return gcn_norm(edge_index, weight, num_nodes, improved, add_self_loops,
                    "source_to_target", dtype)


def _attention_graph(edge_index: Tensor, num_nodes: int, self_loops: bool
                     ) -> Tuple[Tensor, Tensor, CSRPattern]:
    """The edges a GAT layer attends over (``GATConv``'s: self-loops removed, then one per
    node appended, when ``self_loops``) and their CSR pattern (rows = targets)."""
    if self_loops:
        edge_index, _ = remove_self_loops(edge_index)
        edge_index, _ = _add_self_loops(edge_index, num_nodes=num_nodes)
    src, dst = edge_index[0], edge_index[1]
    return src, dst, csr_pattern(dst, src, num_nodes, num_nodes)


class TunedGCN(TunedGNN):
    r""":class:`TunedGNN` with GCN layers (Kipf & Welling, ICLR 2017),
    :math:`H' = \hat D^{-1/2}(A + I)\hat D^{-1/2} H W`.

    The normalised adjacency is computed once per forward for all layers. Extra arguments:
    ``improved`` (self-loop weight 2), ``add_self_loops`` (``None`` = ``True``),
    ``normalize``, ``bias``, and ``cached``: with ``cached=True`` the normalised graph is
    remembered for the last ``(edge_index, edge_weight)`` tensors seen (by object identity
    and version counter), so full-batch training normalises the fixed graph once; a
    mini-batch brings new tensors and is normalised afresh, so caching is safe to leave on.
    Accepts a sparse ``adj_t`` (``torch.sparse_csr``, rows = targets) in place of
    ``edge_index``.

    ``sparse_inputs='auto'`` (default; ``'off'`` takes the inputs as given): an ``edge_index``
    (with no ``edge_weight`` that requires grad) is turned into a CSR ``adj_t``
    (:func:`~pyagc.ops.to_sparse_adjacency`), which the layers aggregate with one SpMM instead
    of a gather-scatter over the edges; and when the first layer's ``Linear`` sees ``x``
    itself (no ``pre_linear``; ``x`` not requiring grad), a bag-of-words-like ``x`` (at most
    5% non-zero) is turned into CSR, so that ``Linear`` costs ``O(nnz * width)``. Both are
    remembered for the last tensors seen (identity and version counter), so full-batch
    training converts once and a new mini-batch or an in-place edit is converted afresh. The
    output equals that of ``'off'`` up to float rounding. On CSR operands the layers compute
    :math:`\hat A (X W^\top) + b` themselves with :func:`~pyagc.ops.sparse.csr_matmul`, whose
    backward pass takes the transposes of :math:`\hat A` and of a CSR ``x`` from a cache
    (torch's own backward re-transposes them on every call: a sort of all entries).
    """

    supports_edge_weight = True
    bipartite_trimming = True

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int,
                 out_channels: Optional[int] = None, dropout: float = 0.0,
                 act: Union[str, Callable, None] = "relu", act_first: bool = False,
                 act_last: bool = False, act_kwargs: Optional[Dict[str, Any]] = None,
                 norm: Union[str, Callable, None] = None,
                 norm_kwargs: Optional[Dict[str, Any]] = None, residual: bool = False,
                 pre_linear: bool = False, jk: Optional[str] = None, **kwargs: Any) -> None:
        self.improved = bool(kwargs.pop("improved", False))
        add_self_loops = kwargs.pop("add_self_loops", None)
        self.add_self_loops = True if add_self_loops is None else bool(add_self_loops)
        self.normalize = bool(kwargs.pop("normalize", True))
        self.cached = bool(kwargs.pop("cached", False))
        self.sparse_inputs = _sparse_inputs_option(kwargs)
        self._cache = TensorCache(_gcn_normalise)
        self._adj_t = TensorCache(to_sparse_adjacency)
        self._sparse_x = TensorCache(to_sparse_features)
        self._x_t = TensorCache(transpose_csr)     # transposes for the backward pass
        self._adj_tt = TensorCache(transpose_csr)
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout, act,
                         act_first, act_last, act_kwargs, norm, norm_kwargs, residual,
                         pre_linear, jk, **kwargs)

    def init_conv(self, in_channels: int, out_channels: int, is_last: bool = False,
                  **kwargs: Any) -> MessagePassing:
        # Normalisation happens once in prepare_graph, so the layers aggregate as given.
        return GCNConv(in_channels, out_channels, normalize=False, add_self_loops=False,
                       **kwargs)

    def prepare_inputs(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor]
                       ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        if (self.sparse_inputs == "off" or edge_index.layout != torch.strided
                or (edge_weight is not None and edge_weight.requires_grad)):
            return x, edge_index, edge_weight
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        adj_t = self._adj_t(edge_index, x.size(0), edge_weight, dtype)
        if self.pre_linear is None and x.layout == torch.strided and not x.requires_grad:
            x = self._sparse_x(x)
        return x, adj_t, None

    def prepare_graph(self, x: Tensor, edge_index: Tensor,
                      edge_weight: Optional[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
        if not self.normalize:
            return edge_index, edge_weight
        num_nodes = x.size(0)

        inputs = (edge_index, edge_weight, num_nodes, x.dtype, self.improved, self.add_self_loops)
        return self._cache(*inputs) if self.cached else _gcn_normalise(*inputs)

    def conv_forward(self, layer, x, edge_index, edge_weight, edge_attr, out_rows=None):
        conv = self.convs[layer]
        if edge_index.layout != torch.sparse_csr or edge_weight is not None:
            return conv(x, edge_index, edge_weight)
        # The layer by hand on CSR operands: A_hat (X W^T) + b, each sparse product taking
        # its transpose (for the backward pass) from a cache instead of building it anew --
        # or (A_hat X) W^T when that costs fewer multiplies: a narrow X, or an A_hat with
        # fewer rows than X (per-hop trimming keeps only the rows the next layer reads).
        nnz, (rows, cols) = edge_index.values().numel(), edge_index.shape
        width_in, width_out = conv.lin.in_channels, conv.lin.out_channels
        if (x.layout == torch.strided and
                nnz * width_in + rows * width_in * width_out
                < cols * width_in * width_out + nnz * width_out):
            out = conv.lin(_cached_csr_mm(self._adj_tt, edge_index, x))
        else:
            out = _cached_csr_mm(self._adj_tt, edge_index, _linear(conv.lin, x, self._x_t))
        return out if conv.bias is None else out + conv.bias

    def layerwise_conv(self, num_nodes, edge_index, edge_weight, edge_attr, batch_size):
        """Whole-graph layers on the normalised CSR adjacency; where
        :math:`(\hat A X) W^\top` is the cheaper order (a layer that does not narrow), it
        runs on blocks of ``batch_size`` rows of :math:`\hat A`, so that neither
        :math:`X W^\top` nor :math:`\hat A X` exists for all nodes next to the output (on the
        Products-sized graph each ``[N, 512]`` float32 tensor is 5 GB). Measured there at
        256 columns: 13.3 GB peak against 19.0 GB for whole-graph products, for 1.23x the
        time (``benchmarks/bench_layerwise_inference.py``)."""
        if edge_index.layout != torch.sparse_csr or edge_weight is not None:
            return super().layerwise_conv(num_nodes, edge_index, edge_weight, edge_attr,
                                          batch_size)

        def conv(layer: int, h: Tensor) -> Tensor:
            c = self.convs[layer]
            if h.layout != torch.strided or c.lin.out_channels < c.lin.in_channels:
                return self.conv_forward(layer, h, edge_index, None, None)
            return _row_block_products(
                edge_index, h, batch_size,
                lambda start, stop, aggr: c.lin(aggr) if c.bias is None
                else c.lin(aggr) + c.bias)

        return conv


class TunedGraphSAGE(TunedGNN):
    r""":class:`TunedGNN` with GraphSAGE layers (Hamilton et al., NeurIPS 2017),
    :math:`h_i' = W_1 h_i + W_2\,\mathrm{aggr}_{j \in \mathcal{N}(i)} h_j`.

    Extra arguments: ``aggr`` (default ``'mean'``), ``project``, ``root_weight``, ``bias``
    (``normalize`` is a GCN option and is not forwarded to SAGE layers).

    ``sparse_inputs='auto'`` (default; ``'off'`` runs PyG's ``SAGEConv`` as is): with a
    ``'mean'`` or ``'sum'`` aggregation, no ``project`` and dense ``x``, each layer aggregates
    with one product of a CSR aggregation matrix (:func:`~pyagc.ops.aggregation_csr`, rows =
    the targets whose outputs are read) instead of a gather of ``[E, width]`` messages and a
    scatter (a third of the time on a 1M-node neighbour-sampled batch), then applies
    ``SAGEConv``'s own weights: ``lin_l(aggr) + lin_r(x_target)``. The output equals that of
    ``'off'`` up to float rounding; the matrix and its transpose (for the backward pass) are
    remembered for the last graph seen, so full-batch training builds them once.
    """

    bipartite_trimming = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sparse_inputs = _sparse_inputs_option(kwargs)
        self._aggregation = TensorCache(aggregation_csr)
        self._adj_tt = TensorCache(transpose_csr)
        super().__init__(*args, **kwargs)

    def init_conv(self, in_channels: int, out_channels: int, is_last: bool = False,
                  **kwargs: Any) -> MessagePassing:
        return SAGEConv(in_channels, out_channels, **kwargs)

    def conv_forward(self, layer, x, edge_index, edge_weight, edge_attr, out_rows=None):
        conv = self.convs[layer]
        if (self.sparse_inputs == "off" or conv.aggr not in ("mean", "sum", "add")
                or conv.project or x.layout != torch.strided
                or edge_index.layout != torch.strided):
            return self._bipartite_conv(layer, x, edge_index, out_rows)
        rows = x.size(0) if out_rows is None else min(out_rows, x.size(0))
        adj = self._aggregation(edge_index, rows, x.size(0), conv.aggr == "mean", x.dtype)
        out = conv.lin_l(_cached_csr_mm(self._adj_tt, adj, x))
        if conv.root_weight:
            out = out + conv.lin_r(x[:rows])
        return F.normalize(out, p=2.0, dim=-1) if conv.normalize else out

    def layerwise_conv(self, num_nodes, edge_index, edge_weight, edge_attr, batch_size):
        """As :meth:`TunedGNN.layerwise_conv`, but with ``sparse_inputs`` on and ``'mean'`` /
        ``'sum'`` layers: one aggregation matrix of the whole graph
        (:func:`~pyagc.ops.aggregation_csr`, built once for all layers), and each block of
        ``batch_size`` targets is a row slice of it times the layer input -- no per-batch
        subgraph, relabelling, gather of the neighbours' rows or matrix build. Same outputs
        up to float rounding; on the Products-sized graph (2.4M nodes, 122M edges, SAGE 256)
        the per-batch subgraphs held ~1.5 GB of gathered rows each and the inference took
        176 s, see ``benchmarks/bench_layerwise_inference.py``."""
        if (self.sparse_inputs == "off" or edge_index.layout != torch.strided
                or any(c.aggr not in ("mean", "sum", "add") or c.project for c in self.convs)):
            return super().layerwise_conv(num_nodes, edge_index, edge_weight, edge_attr,
                                          batch_size)
        adjs = {mean: aggregation_csr(edge_index, num_nodes, num_nodes, mean, torch.float32)
                for mean in {c.aggr == "mean" for c in self.convs}}

        def conv(layer: int, h: Tensor) -> Tensor:
            c = self.convs[layer]

            def finish(start: int, stop: int, aggr: Tensor) -> Tensor:
                part = c.lin_l(aggr)
                if c.root_weight:
                    own = h[start:stop] if h.layout == torch.strided else \
                        select_rows(h, torch.arange(start, stop, device=h.device))
                    part = part + c.lin_r(own)
                return F.normalize(part, p=2.0, dim=-1) if c.normalize else part
            return _row_block_products(adjs[c.aggr == "mean"], h, batch_size, finish)

        return conv


class TunedGIN(TunedGNN):
    r""":class:`TunedGNN` with GIN layers (Xu et al., ICLR 2019),
    :math:`h_i' = \mathrm{MLP}((1 + \epsilon) h_i + \sum_{j \in \mathcal{N}(i)} h_j)` with a
    two-layer MLP ``[in, out, out]`` using the network's activation. Extra arguments:
    ``train_eps``, ``eps``.
    """

    bipartite_trimming = True

    def init_conv(self, in_channels: int, out_channels: int, is_last: bool = False,
                  **kwargs: Any) -> MessagePassing:
        act, act_kwargs = self._act_spec
        mlp = MLP([in_channels, out_channels, out_channels], act=act if act else "relu",
                  act_kwargs=act_kwargs, norm=None)
        return GINConv(mlp, **kwargs)

    def conv_forward(self, layer, x, edge_index, edge_weight, edge_attr, out_rows=None):
        return self._bipartite_conv(layer, x, edge_index, out_rows)


class TunedGAT(TunedGNN):
    r""":class:`TunedGNN` with graph attention layers (Veličković et al., ICLR 2018),
    :math:`h_i' = \Vert_{k=1}^{K} \sum_j \alpha^k_{ij} W^k h_j`.

    Extra arguments: ``heads`` (``K``, default 1), ``concat`` (default ``True``: hidden
    layers concatenate ``K`` heads of ``width / K`` channels, so ``hidden_channels`` must be
    divisible by ``heads``; the output layer averages its heads), ``negative_slope``,
    ``add_self_loops`` (``None`` = ``True``), ``attn_dropout`` (dropout on the attention
    coefficients), ``edge_dim``, ``bias``, ``sparse_inputs``.

    ``sparse_inputs='auto'`` (default; ``'off'``: PyG's ``GATConv.forward``): on an
    ``edge_index`` without edge features the layers keep PyG's parameters and attention
    scores (same self-loops, LeakyReLU, softmax per target, dropout, in PyG's edge order) but
    aggregate :math:`\sum_j \alpha_{ij} W h_j` as one sparse product per head
    (:func:`~pyagc.ops.sparse.pattern_spmm` on the graph's CSR pattern, sorted once per
    ``edge_index`` and cached), whose backward pass is a sparse product with the transpose
    and a sampled dense-dense product, instead of gathering, weighting and scattering
    ``[E, heads, C]`` messages (2.4x faster per layer on Cora, one thread). A CSR ``x``'s
    first ``Linear`` takes its transpose from a cache as in :class:`TunedGCN`. Same output
    and gradients up to float rounding; ``tests/encoders`` compares both paths.
    """

    supports_edge_attr = True
    conv_cls = GATConv

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sparse_inputs = _sparse_inputs_option(kwargs)
        self._x_t = TensorCache(transpose_csr)
        self._graph = TensorCache(_attention_graph)
        super().__init__(*args, **kwargs)

    def init_conv(self, in_channels: int, out_channels: int, is_last: bool = False,
                  **kwargs: Any) -> MessagePassing:
        kwargs = dict(kwargs)
        heads = int(kwargs.pop("heads", 1))
        concat = bool(kwargs.pop("concat", True))
        if kwargs.get("add_self_loops", True) is None:
            kwargs["add_self_loops"] = True
        kwargs["dropout"] = float(kwargs.pop("attn_dropout", 0.0))
        if heads < 1:
            raise ValueError(f"heads must be >= 1, got {heads}.")
        if concat and not is_last:
            if out_channels % heads != 0:
                raise ValueError(f"With concat=True the width {out_channels} must be divisible "
                                 f"by heads={heads}.")
            return self.conv_cls(in_channels, out_channels // heads, heads=heads, concat=True,
                                 **kwargs)
        return self.conv_cls(in_channels, out_channels, heads=heads, concat=False, **kwargs)

    def conv_forward(self, layer, x, edge_index, edge_weight, edge_attr, out_rows=None):
        conv = self.convs[layer]
        if edge_attr is not None and getattr(conv, "edge_dim", None):
            return conv(x, edge_index, edge_attr=edge_attr)
        if (self.sparse_inputs == "off" or type(conv) is not GATConv or conv.lin is None
                or getattr(conv, "res", None) is not None or edge_index.layout != torch.strided):
            return conv(x, edge_index)
        return self._attention_layer(conv, x, edge_index)

    def _attention_layer(self, conv: GATConv, x: Tensor, edge_index: Tensor) -> Tensor:
        """``conv(x, edge_index)`` with the aggregation as sparse products (see the class)."""
        heads, channels = conv.heads, conv.out_channels
        num_nodes = x.size(0)
        h = _linear(conv.lin, x, self._x_t).view(-1, heads, channels)
        # Both attention halves <a_src, W h_i>, <a_dst, W h_i> as one batched product.
        score_src, score_dst = torch.einsum(
            "nhc,shc->snh", h, torch.cat([conv.att_src, conv.att_dst], dim=0))  # [N, heads]
        src, dst, pattern = self._graph(edge_index, num_nodes, bool(conv.add_self_loops))
        alpha = F.leaky_relu(score_src[src] + score_dst[dst], conv.negative_slope)
        alpha = softmax(alpha, dst, num_nodes=num_nodes)
        alpha = F.dropout(alpha, p=conv.dropout, training=self.training)
        alpha = alpha[pattern.order]                                  # CSR order
        out = torch.stack([pattern_spmm(pattern, alpha[:, k], h[:, k]) for k in range(heads)],
                          dim=1)                                      # [N, heads, C]
        out = out.view(-1, heads * channels) if conv.concat else out.mean(dim=1)
        return out if conv.bias is None else out + conv.bias

    def layerwise_conv(self, num_nodes, edge_index, edge_weight, edge_attr, batch_size):
        r"""Whole-graph attention layers of :meth:`TunedGNN.inference`: per layer,
        :math:`W h` and both attention halves are computed once for all nodes; each block of
        ``batch_size`` targets then takes its in-edges (sorted by target once for all
        layers), the softmax of their scores per target, and aggregates
        :math:`\sum_j \alpha_{ij} W h_j` as one CSR product per head over the whole-graph
        :math:`W h` -- no per-block subgraph, relabelling or gather of the neighbours' rows,
        which made the generic path hold ~1.5 GB per block and take over 12 minutes on the
        Products-sized graph (DAEGC's GAT 256; this path: 114 s for both layers and the labels,
        two threads, ``benchmarks/bench_products_deep.py``). The self-loops ``GATConv`` adds (after
        removing the graph's own) enter as one term per target. Same output as the eval
        forward up to float rounding (``tests/encoders``). Memory per layer: its input,
        :math:`W h` and its output, ``[N, width]`` each, plus one block's edges."""
        if (self.sparse_inputs == "off" or edge_index.layout != torch.strided
                or any(type(c) is not GATConv or c.lin is None
                       or getattr(c, "res", None) is not None
                       or (edge_attr is not None and getattr(c, "edge_dim", None))
                       for c in self.convs)):
            return super().layerwise_conv(num_nodes, edge_index, edge_weight, edge_attr,
                                          batch_size)
        in_edges: Dict[bool, Tuple[Tensor, Tensor]] = {}

        def targets_csr(drop_self_loops: bool) -> Tuple[Tensor, Tensor]:
            """``(crow, col)`` of the in-edges, rows = targets, built once per call."""
            if drop_self_loops not in in_edges:
                order, crow = _edges_by_target(edge_index, num_nodes)
                col = edge_index[0, order]
                if drop_self_loops:
                    dst = edge_index[1, order]
                    keep = col != dst
                    col = col[keep]
                    crow = torch.zeros_like(crow)
                    torch.cumsum(torch.bincount(dst[keep], minlength=num_nodes), 0,
                                 out=crow[1:])
                in_edges[drop_self_loops] = crow, col
            return in_edges[drop_self_loops]

        def conv(layer: int, h: Tensor) -> Tensor:
            c = self.convs[layer]
            heads, channels, loops = c.heads, c.out_channels, bool(c.add_self_loops)
            crow, col = targets_csr(loops)
            lin = _linear(c.lin, h, self._x_t).view(-1, heads, channels)
            score_src, score_dst = torch.einsum(
                "nhc,shc->snh", lin, torch.cat([c.att_src, c.att_dst], dim=0))
            # One contiguous [N, C] matrix per head for the CSR products.
            per_head = lin.unbind(1) if heads == 1 else lin.transpose(0, 1).contiguous()
            del lin
            out: Optional[Tensor] = None
            for start in range(0, num_nodes, batch_size):
                stop = min(start + batch_size, num_nodes)
                lo, hi = int(crow[start]), int(crow[stop])
                src, counts = col[lo:hi], crow[start + 1:stop + 1] - crow[start:stop]
                rows = torch.repeat_interleave(torch.arange(stop - start, device=src.device),
                                               counts)
                alpha = F.leaky_relu(score_src[src] + score_dst[start:stop][rows],
                                     c.negative_slope)
                # Softmax per target as PyG's softmax computes it (max subtracted, 1e-16 in
                # the denominator), the added self-loop as one more term of each target.
                # Segment reductions: the edges come grouped by target (index_reduce_'s
                # amax is 25x slower here).
                peak = torch.segment_reduce(alpha, "max", lengths=counts, axis=0, unsafe=True)
                if loops:
                    own = F.leaky_relu(score_src[start:stop] + score_dst[start:stop],
                                       c.negative_slope)
                    peak = torch.maximum(peak, own)
                peak = peak.nan_to_num_(neginf=0.0)
                alpha = alpha.sub_(peak[rows]).exp_()
                total = torch.segment_reduce(alpha, "sum", lengths=counts, axis=0, unsafe=True)
                if loops:
                    own = own.sub_(peak).exp_()
                    total += own
                total += 1e-16
                alpha /= total[rows]
                block_crow = crow[start:stop + 1] - lo
                parts = []
                for k in range(heads):
                    part = torch.sparse.mm(csr_tensor(block_crow, src, alpha[:, k],
                                                      (stop - start, num_nodes)), per_head[k])
                    if loops:
                        part += (own[:, k] / total[:, k]).unsqueeze(1) * per_head[k][start:stop]
                    parts.append(part)
                block = torch.cat(parts, dim=1) if c.concat else torch.stack(parts).mean(0)
                if c.bias is not None:
                    block += c.bias
                if out is None:
                    out = block.new_empty(num_nodes, block.size(1))
                out[start:stop] = block
            if out is None:
                raise ValueError("layer-wise inference needs at least one node.")
            return out

        return conv


class TunedGATv2(TunedGAT):
    r""":class:`TunedGAT` with GATv2 layers (Brody et al., ICLR 2022), whose attention
    :math:`a^\top \mathrm{LeakyReLU}(W[h_i \Vert h_j])` is dynamic. Extra argument:
    ``share_weights``.
    """

    conv_cls = GATv2Conv


_GNN_TYPES = {
    "gcn": (TunedGCN, {"improved", "cached", "add_self_loops", "normalize", "bias",
                       "sparse_inputs"}),
    "sage": (TunedGraphSAGE, {"aggr", "project", "root_weight", "bias", "sparse_inputs"}),
    "gin": (TunedGIN, {"train_eps", "eps"}),
    "gat": (TunedGAT, {"heads", "concat", "negative_slope", "add_self_loops", "attn_dropout",
                       "edge_dim", "bias", "fill_value", "sparse_inputs"}),
    "gatv2": (TunedGATv2, {"heads", "concat", "negative_slope", "add_self_loops",
                           "attn_dropout", "edge_dim", "bias", "fill_value", "share_weights"}),
}
# Options that belong to some layer type: a shared config may carry all of them, and the
# factory passes each layer type the ones it understands.
_KNOWN_OPTIONS = set().union(*(opts for _, opts in _GNN_TYPES.values()))


def create_tuned_gnn(
    gnn_type: str,
    in_channels: int,
    hidden_channels: int,
    num_layers: int,
    out_channels: Optional[int] = None,
    dropout: float = 0.0,
    act: Union[str, Callable, None] = "relu",
    act_first: bool = False,
    act_last: bool = False,
    act_kwargs: Optional[Dict[str, Any]] = None,
    norm: Union[str, Callable, None] = None,
    norm_kwargs: Optional[Dict[str, Any]] = None,
    residual: bool = False,
    pre_linear: bool = False,
    jk: Optional[str] = None,
    **kwargs: Any,
) -> TunedGNN:
    """Builds a :class:`TunedGNN` of type ``'gcn'``, ``'sage'``, ``'gin'``, ``'gat'`` or
    ``'gatv2'``.

    ``kwargs`` may hold the layer options of every type at once (as the published configs
    do: ``add_self_loops``, ``normalize``, ``improved``, ``cached``, ``sparse_inputs``,
    ``aggr``, ``project``, ``heads``, ``concat``, ``negative_slope``, ``train_eps``, ``bias``,
    ...); each type receives the ones it understands and ignores the others; an option no type
    knows raises ``TypeError``. For ``act='leaky_relu'``, ``negative_slope`` also sets the
    activation's slope unless ``act_kwargs`` gives one. ``None`` values mean "layer default".

    Example::

        >>> enc = create_tuned_gnn('gcn', 1433, 512, num_layers=1, act='prelu', act_last=True,
        ...                        cached=True)
        >>> z = enc(x, edge_index)   # [N, 512]
    """
    key = str(gnn_type).lower()
    if key not in _GNN_TYPES:
        raise ValueError(f"Unknown gnn_type {gnn_type!r}: choose one of {sorted(_GNN_TYPES)}.")
    unknown = set(kwargs) - _KNOWN_OPTIONS
    if unknown:
        raise TypeError(f"Unknown encoder option(s) {sorted(unknown)}; known options: "
                        f"{sorted(_KNOWN_OPTIONS)}.")
    cls, accepted = _GNN_TYPES[key]
    act_kwargs = dict(act_kwargs or {})
    if (isinstance(act, str) and act.lower().replace("_", "") == "leakyrelu"
            and kwargs.get("negative_slope") is not None):
        act_kwargs.setdefault("negative_slope", float(kwargs["negative_slope"]))
    layer_kwargs = {k: v for k, v in kwargs.items() if k in accepted and v is not None}
    return cls(in_channels, hidden_channels, num_layers, out_channels=out_channels,
               dropout=dropout, act=act, act_first=act_first, act_last=act_last,
               act_kwargs=act_kwargs, norm=norm, norm_kwargs=norm_kwargs, residual=residual,
               pre_linear=pre_linear, jk=jk, **layer_kwargs)
